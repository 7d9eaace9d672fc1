"""Restarting the server keeps every resource and the same credentials."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from botocore.exceptions import ClientError

from cove.app import StateMismatch, init_state
from cove.scenario import SAGEMAKER_TRUST
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client

TRUST = json.dumps(SAGEMAKER_TRUST)


def test_restart_keeps_resources(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", port=free_port())
    with EmbeddedServer(settings) as first:
        iam = make_client(first, "iam")
        iam.create_role(RoleName="kept", AssumeRolePolicyDocument=TRUST)
        iam.create_user(UserName="kept-user")
        key = iam.create_access_key(UserName="kept-user")["AccessKey"]
        account = first.cove.account
    with EmbeddedServer(settings.with_(port=free_port())) as second:
        assert second.cove.account == account
        iam = make_client(second, "iam")
        assert iam.get_role(RoleName="kept")["Role"]["AssumeRolePolicyDocument"] == json.loads(TRUST)
        sts = make_client(
            second, "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        assert sts.get_caller_identity()["Arn"].endswith(":user/kept-user")


def test_database_dump_does_not_reveal_secrets(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    db, _key, account = init_state(settings)
    db.dispose()
    dump = "\n".join(sqlite3.connect(settings.state_dir / "cove.db").iterdump())
    assert account.access_key_id in dump
    assert account.secret_access_key not in dump
    assert (settings.root_key_path.stat().st_mode & 0o777) == 0o600


def test_state_initialisation_is_idempotent(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    db1, _, first = init_state(settings)
    db1.dispose()
    db2, _, second = init_state(settings)
    db2.dispose()
    assert first == second


def test_operator_chosen_root_key(tmp_path: Path) -> None:
    """Suites that hard-code credentials (moto's decorators sign with FOOBARKEY) can be admitted."""
    settings = Settings(
        state_dir=tmp_path / "state",
        port=free_port(),
        account_id="123456789012",
        root_access_key_id="FOOBARKEY",
        root_secret_access_key="FOOBARSECRET",
    )
    with EmbeddedServer(settings) as server:
        sts = make_client(server, "sts", aws_access_key_id="FOOBARKEY", aws_secret_access_key="FOOBARSECRET")
        assert sts.get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:root"
        wrong = make_client(server, "sts", aws_access_key_id="FOOBARKEY", aws_secret_access_key="nope-nope")
        try:
            wrong.get_caller_identity()
            raise AssertionError("a wrong secret was accepted")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_database_with_another_root_key_is_refused_clearly(tmp_path: Path) -> None:
    first = Settings(state_dir=tmp_path / "one")
    db, _, _ = init_state(first)
    db.dispose()
    other = Settings(state_dir=tmp_path / "two", database_url=first.db_url)
    try:
        init_state(other)
        raise AssertionError("a foreign root key was accepted")
    except StateMismatch as exc:
        assert "another root key" in str(exc) and "two" in str(exc)
