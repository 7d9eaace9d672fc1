"""The AWS CLI against Cove's CloudWatch Logs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from cove.server import EmbeddedServer
from tests.awscli import AwsCli

from .conftest import now_ms


def test_aws_logs_cli(cove_server: EmbeddedServer, tmp_path: Path) -> None:
    aws = AwsCli(cove_server).service("logs")

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
