"""`cove server` as a process: structured request logs, health, graceful shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx

from cove.server import EmbeddedServer, free_port

BIN = Path(sys.executable).parent


def test_server_logs_requests_and_stops_gracefully(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "cfg"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds")}
    proc = subprocess.Popen(
        [
            str(BIN / "cove"),
            "server",
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path / "state"),
            "--log-level",
            "info",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        # The profile the server wrote is enough for an unchanged client.
        creds = (tmp_path / "creds").read_text()
        assert "[cove]" in creds
        key = creds.split("aws_access_key_id = ")[1].split()[0]
        secret = creds.split("aws_secret_access_key = ")[1].split()[0]
        sts = boto3.client(
            "sts",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        identity = sts.get_caller_identity()
        proc.send_signal(signal.SIGTERM)
        # uvicorn drains, runs the lifespan shutdown, then re-raises SIGTERM for the conventional status.
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    requests = [r for r in records if r.get("msg") == "request"]
    assert any(
        r["service"] == "sts"
        and r["operation"] == "GetCallerIdentity"
        and r["status"] == 200
        and r["principal"] == identity["Arn"]
        for r in requests
    ), stderr
    assert all({"ts", "level", "request_id", "ms"} <= set(r) for r in requests)
    assert any(r.get("msg") == "cove stopped" for r in records)


def test_forwarded_headers_do_not_change_the_source_address(cove_server: EmbeddedServer) -> None:
    # The client address is a request's aws:SourceIp: a header must not be able to claim another.
    from sqlalchemy import select

    from cove.services.cloudtrail.events import flush_events
    from cove.services.cloudtrail.tables import AuditEventRow
    from tests.conftest import make_client

    s3 = make_client(cove_server, "s3")

    def spoof(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = "203.0.113.9"
        request.headers["Forwarded"] = "for=203.0.113.9"

    s3.meta.events.register("before-sign.s3", spoof)
    bucket = f"forwarded-{os.getpid()}-{time.monotonic_ns()}"
    s3.create_bucket(Bucket=bucket)
    assert flush_events(cove_server.cove.db)
    with cove_server.cove.db.read() as session:
        records = session.scalars(
            select(AuditEventRow.record).where(
                AuditEventRow.event_name == "CreateBucket", AuditEventRow.record.contains(bucket)
            )
        ).all()
    assert [json.loads(r)["sourceIPAddress"] for r in records] == ["127.0.0.1"]
