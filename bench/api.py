"""API throughput and latency: Cove against moto_server, measured side by side in one run.

Both servers run as separate processes on loopback; the same boto3 client code drives each with
IAM GetRole (query protocol) and STS GetCallerIdentity. Cove verifies every SigV4 signature and
reads from its SQLite database; moto accepts any credentials and keeps state in memory.

    python bench/api.py [--requests 2000] [--clients 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
from botocore.config import Config

from cove.scenario import SAGEMAKER_TRUST

BIN = Path(sys.executable).parent
TRUST = json.dumps(SAGEMAKER_TRUST)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(argv: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(ready_url)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cove_credentials(state: Path, port: int) -> dict[str, str]:
    out = subprocess.run(
        [str(BIN / "cove"), "env", "--state-dir", str(state), "--port", str(port)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def measure(call: Callable[[], Any], requests: int, clients: int) -> dict[str, float]:
    for _ in range(50):
        call()
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients

    def worker() -> None:
        local: list[float] = []
        for _ in range(per_client):
            t0 = time.perf_counter()
            call()
            local.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def captured(client: Any, operation: str, **params: Any) -> tuple[str, str, bytes, dict[str, str]]:
    """The exact HTTP request boto3 sends (signed), captured on its way out."""
    seen: list[Any] = []

    def grab(request: Any, **_: Any) -> None:
        seen.append(request)

    client.meta.events.register("before-send", grab)
    try:
        getattr(client, operation)(**params)
    finally:
        client.meta.events.unregister("before-send", grab)
    request = seen[-1]
    split = urlsplit(request.url)
    path = split.path + (f"?{split.query}" if split.query else "")
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    return request.method, path, body, dict(request.headers.items())


def replay(endpoint: str, request: tuple[str, str, bytes, dict[str, str]], requests: int) -> dict[str, float]:
    """Server-side capacity: replay one boto3-signed request over a keep-alive connection, so the
    client costs microseconds and the figure is the server's. SigV4 requests stay valid for 15
    minutes, and Cove verifies each one in full."""
    method, path, body, headers = request
    split = urlsplit(endpoint)
    conn = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port)
    latencies: list[float] = []
    for i in range(requests + 50):
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"replayed request failed with {response.status}")
        if i >= 50:
            latencies.append(time.perf_counter() - t0)
    conn.close()
    latencies.sort()
    return {
        "rps": len(latencies) / sum(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def bench(endpoint: str, creds: dict[str, str], requests: int, clients: int) -> dict[str, dict[str, float]]:
    session = boto3.Session(region_name="us-east-1", **creds)
    cfg = Config(retries={"max_attempts": 1}, max_pool_connections=max(10, clients))
    iam = session.client("iam", endpoint_url=endpoint, config=cfg)
    sts = session.client("sts", endpoint_url=endpoint, config=cfg)
    try:
        iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=TRUST)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    return {
        "iam:GetRole": measure(lambda: iam.get_role(RoleName="bench-role"), requests, clients),
        "sts:GetCallerIdentity": measure(sts.get_caller_identity, requests, clients),
        "iam:GetRole (replayed)": replay(
            endpoint, captured(iam, "get_role", RoleName="bench-role"), requests
        ),
        "sts:GetCallerIdentity (replayed)": replay(endpoint, captured(sts, "get_caller_identity"), requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    moto = shutil.which("moto_server", path=str(BIN)) or shutil.which("moto_server")
    if moto is None:
        sys.exit("moto_server not found: pip install 'moto[server]'")
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        state = Path(tmp) / "cove"
        creds = cove_credentials(state, port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with process(
            [
                str(BIN / "cove"),
                "server",
                "--port",
                str(port),
                "--state-dir",
                str(state),
                "--log-level",
                "warning",
            ],
            f"http://127.0.0.1:{port}/health",
            env | {"AWS_CONFIG_FILE": f"{tmp}/cfg", "AWS_SHARED_CREDENTIALS_FILE": f"{tmp}/creds"},
        ):
            results["cove"] = bench(f"http://127.0.0.1:{port}", creds, args.requests, args.clients)
        mport = free_port()
        with process([moto, "-p", str(mport)], f"http://127.0.0.1:{mport}/moto-api/"):
            results["moto"] = bench(
                f"http://127.0.0.1:{mport}",
                {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
                args.requests,
                args.clients,
            )
        cport = free_port()
        with process(
            [sys.executable, str(Path(__file__).with_name("canned.py")), str(cport)],
            f"http://127.0.0.1:{cport}/",
        ):
            results["canned"] = bench(
                f"http://127.0.0.1:{cport}",
                {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
                args.requests,
                args.clients,
            )
    print(
        f"requests per operation: {args.requests}, client threads: {args.clients}; "
        "'canned' answers instantly: the floor of boto3 and the HTTP stack"
    )
    print("boto3 rows: a boto3 client loop end to end; replayed rows: the same signed request resent raw")
    print(f"{'operation':34} {'server':6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for op in results["cove"]:
        for server in ("cove", "moto", "canned"):
            r = results[server][op]
            print(f"{op:34} {server:6} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")
        ratio = results["cove"][op]["rps"] / results["moto"][op]["rps"]
        print(
            f"{op:34} ratio cove/moto req/s: {ratio:.2f}x (target >= 5x); cove p50 {results['cove'][op]['p50_ms']:.2f} ms (target <= 2 ms)"
        )


if __name__ == "__main__":
    main()
