"""``cove audit``: filters, the result column and --json, reading the live server's state directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from cove.aws.context import Principal
from cove.cli.audit import describe_result, parse_since
from cove.cli.main import app, console
from cove.server import EmbeddedServer
from cove.services.cloudtrail.events import resource

from .conftest import Recorder

runner = CliRunner()


def _audit(server: EmbeddedServer, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(
        app, ["audit", "--state-dir", str(server.cove.settings.state_dir), "--json", *args]
    )
    assert result.exit_code == 0, result.output
    records: list[dict[str, Any]] = json.loads(result.output)
    return records


@pytest.fixture
def trail(record: Recorder, account_id: str) -> dict[str, str]:
    """Four calls in this test's window; the --since bound keeps other tests' events out."""
    role = Principal(
        kind="assumed-role",
        account_id=account_id,
        arn=f"arn:aws:sts::{account_id}:assumed-role/Reader/s1",
        user_id="AROAREADER:s1",
        name="s1",
        role_arn=f"arn:aws:iam::{account_id}:role/Reader",
        role_id="AROAREADER",
        session_name="s1",
    )
    key = f"arn:aws:kms:us-east-1:{account_id}:key/cli-key-1"
    deny = {
        "decision": "explicitDeny",
        "deniedBy": "VPC endpoint",
        "statements": [
            {
                "policyType": "VPC endpoint",
                "policyName": "vpce-0aa policy",
                "sid": "OnlyOurBucket",
                "effect": "Deny",
            }
        ],
    }
    events = {
        "decrypt": record(1, resources=[resource(key, "AWS::KMS::Key")]),
        "denied": record(
            2,
            principal=role,
            event_source="s3.amazonaws.com",
            event_name="GetObject",
            resources=[resource("arn:aws:s3:::cli-bucket/a.txt", "AWS::S3::Object")],
            error_code="AccessDenied",
            error_message="Access Denied",
            authorization=deny,
            vpc_endpoint_id="vpce-0aa",
        ),
        "plain-denied": record(3, event_name="Encrypt", error_code="AccessDeniedException"),
        "failed": record(4, event_name="Decrypt", error_code="InvalidCiphertextException"),
    }
    return {name: e.event_id for name, e in events.items()}


def _since(window: datetime) -> tuple[str, ...]:
    return ("--since", window.isoformat(), "--until", (window + timedelta(hours=1)).isoformat())


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["eventID"] for r in records]


def test_filters(
    cove_server: EmbeddedServer, trail: dict[str, str], window: datetime, account_id: str
) -> None:
    since = _since(window)
    everything = _audit(cove_server, *since)
    assert _ids(everything) == [trail["failed"], trail["plain-denied"], trail["denied"], trail["decrypt"]]
    assert _ids(_audit(cove_server, *since, "--source", "s3")) == [trail["denied"]]
    assert _ids(_audit(cove_server, *since, "--source", "s3.amazonaws.com")) == [trail["denied"]]
    assert _ids(_audit(cove_server, *since, "--name", "Decrypt")) == [trail["failed"], trail["decrypt"]]
    assert _ids(_audit(cove_server, *since, "--denied")) == [trail["plain-denied"], trail["denied"]]
    # A role's ARN finds its sessions; the key id alone finds the key.
    role = f"arn:aws:iam::{account_id}:role/Reader"
    assert _ids(_audit(cove_server, *since, "--principal", role)) == [trail["denied"]]
    assert _ids(_audit(cove_server, *since, "--resource", "cli-key-1")) == [trail["decrypt"]]
    assert _ids(_audit(cove_server, *since, "--resource", "cli-bucket/a.txt")) == [trail["denied"]]
    assert len(_audit(cove_server, *since, "--limit", "2")) == 2


def test_table(
    cove_server: EmbeddedServer, trail: dict[str, str], window: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command's console measured the terminal when it was imported; give it room for one line a row.
    monkeypatch.setattr(console, "width", 300)
    result = runner.invoke(
        app,
        [
            "audit",
            "--state-dir",
            str(cove_server.cove.settings.state_dir),
            *_since(window),
            "--source",
            "s3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "s3.GetObject" in result.output
    assert "OnlyOurBucket" in result.output
    assert "vpce-0aa" in result.output
    assert "assumed-role/Reader/s1" in result.output
    assert "kms.Decrypt" not in result.output


def test_bad_since_is_refused(cove_server: EmbeddedServer) -> None:
    result = runner.invoke(
        app, ["audit", "--state-dir", str(cove_server.cove.settings.state_dir), "--since", "soon"]
    )
    assert result.exit_code == 2


def test_parse_since() -> None:
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert parse_since("1h", now) == now - timedelta(hours=1)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("2030-01-01T10:00:00", now) == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert parse_since("2030-01-01T10:00:00Z", now) == datetime(2030, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_since("yesterday", now)


def test_describe_result() -> None:
    assert describe_result({}) == "allowed"
    assert describe_result({"errorCode": "NoSuchKey"}) == "failed: NoSuchKey"
    assert describe_result({"errorCode": "AccessDenied"}) == "denied (AccessDenied)"
    implicit = {"authorization": {"decision": "implicitDeny", "deniedBy": "identity-based", "statements": []}}
    assert describe_result({"additionalEventData": implicit}) == "denied: no identity-based policy allows it"
    explicit = {
        "authorization": {
            "decision": "explicitDeny",
            "deniedBy": "resource-based",
            "statements": [
                {
                    "policyType": "resource-based",
                    "policyName": "bucket policy",
                    "sid": "Allow",
                    "effect": "Allow",
                },
                {
                    "policyType": "resource-based",
                    "policyName": "bucket policy",
                    "sid": "DenyHttp",
                    "effect": "Deny",
                },
            ],
        }
    }
    assert (
        describe_result({"additionalEventData": explicit})
        == "denied by bucket policy (resource-based): DenyHttp"
    )
    allowed = {"authorization": {"decision": "allowed", "statements": []}}
    assert describe_result({"additionalEventData": allowed}) == "allowed"
