"""The AWS CLI against Cove's CloudWatch Logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from cove.server import EmbeddedServer

from .conftest import now_ms

BIN = Path(sys.executable).parent


def test_aws_logs_cli(cove_server: EmbeddedServer, tmp_path: Path) -> None:
    account = cove_server.cove.account
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.environ["AWS_CONFIG_FILE"],
        AWS_SHARED_CREDENTIALS_FILE=os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        AWS_ACCESS_KEY_ID=account.access_key_id,
        AWS_SECRET_ACCESS_KEY=account.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=cove_server.endpoint_url,
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )

    def aws(*args: str, check: bool = True) -> Any:
        proc = subprocess.run(
            [str(BIN / "aws"), "logs", *args, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if not check:
            return proc
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    group = f"/cove/cli/{uuid.uuid4().hex[:8]}"
    aws("create-log-group", "--log-group-name", group, "--tags", "team=ml")
    aws("put-retention-policy", "--log-group-name", group, "--retention-in-days", "30")
    aws("create-log-stream", "--log-group-name", group, "--log-stream-name", "train")
    t = now_ms()
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            [{"timestamp": t + i, "message": f"step {i} {'ERROR' if i == 3 else 'ok'}"} for i in range(5)]
        )
    )
    put = aws(
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "train",
        "--log-events",
        f"file://{events}",
    )
    assert "nextSequenceToken" in put
    aws(
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "train",
        "--log-events",
        f"timestamp={t + 10},message=shorthand",
    )
    got = aws("get-log-events", "--log-group-name", group, "--log-stream-name", "train", "--start-from-head")
    assert [e["message"] for e in got["events"]][-2:] == ["step 4 ok", "shorthand"]
    found = aws("filter-log-events", "--log-group-name", group, "--filter-pattern", "ERROR")
    assert [e["message"] for e in found["events"]] == ["step 3 ERROR"]
    # The CLI follows nextToken by itself: small pages still give every event.
    paged = aws("filter-log-events", "--log-group-name", group, "--page-size", "2")
    assert len(paged["events"]) == 6
    [described] = aws("describe-log-groups", "--log-group-name-prefix", group)["logGroups"]
    assert described["retentionInDays"] == 30 and described["logGroupName"] == group
    assert aws("list-tags-log-group", "--log-group-name", group)["tags"] == {"team": "ml"}
    missing = aws("describe-log-streams", "--log-group-name", group + "-missing", check=False)
    assert missing.returncode != 0
    assert (
        "ResourceNotFoundException" in missing.stderr
        and "The specified log group does not exist." in missing.stderr
    )
    aws("delete-log-group", "--log-group-name", group)
