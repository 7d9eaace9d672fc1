"""The PostgreSQL backend: migrations, IAM/STS through a live server, restarts, the local account."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, func, inspect, select, text

import cove.db.engine
import cove.services.tables  # every table on Base.metadata, for compare_metadata
from cove.app import init_state
from cove.db import Base, Database
from cove.keyring import RootKey
from cove.server import EmbeddedServer, free_port
from cove.services.iam.accounts import LocalAccount
from cove.services.iam.managed import AWS_MANAGED_POLICIES
from cove.services.iam.tables import AccessKey, Account, ManagedPolicy
from cove.settings import Settings
from tests.conftest import make_client

# A SQLAlchemy warning on PostgreSQL (type coercion, implicit cartesian products...) is a bug here.
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")

_IDENTITY_TABLES = {
    "accounts",
    "iam_access_keys",
    "iam_managed_policies",
    "iam_role_attachments",
    "iam_role_policies",
    "iam_roles",
    "iam_user_attachments",
    "iam_user_policies",
    "iam_users",
    "sts_credentials",
}


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(cove.db.engine.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def _version(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_apply_from_scratch_and_are_idempotent(fresh_postgres_url: str) -> None:
    db = Database(fresh_postgres_url)
    assert db.engine.dialect.name == "postgresql"
    assert _version(db) is None
    db.migrate()
    assert _version(db) == _head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert tables >= _IDENTITY_TABLES

    # What the migrations built on PostgreSQL is what the models describe (types, nullability,
    # indexes, constraints); tables still waiting for their migration are that migration's business.
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mismatched = [d for d in diffs if not (isinstance(d, tuple) and d[0] == "add_table")]
    mismatched = [d for d in mismatched if _diff_table(d) in tables]
    assert mismatched == []

    with db.session() as session:
        session.execute(
            text("INSERT INTO accounts (id, name, local, created) VALUES ('1', 'x', false, now())")
        )
    db.dispose()

    # A restart migrates again: nothing to do, nothing lost.
    again = Database(fresh_postgres_url)
    again.migrate()
    assert _version(again) == _head_revision()
    with again.session() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1
    again.dispose()


def _diff_table(diff: Any) -> str | None:
    """The table an alembic autogenerate diff is about (diffs are tuples or lists of tuples)."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        if isinstance(part, str):
            return part
        if isinstance(part, Table):
            return part.name
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
    return None


def test_postgres_column_types(fresh_postgres_url: str) -> None:
    db = Database(fresh_postgres_url)
    db.migrate()
    columns = {c["name"]: c for c in inspect(db.engine).get_columns("sts_credentials")}
    assert columns["secret_sealed"]["type"].__visit_name__.upper() == "BYTEA"
    assert columns["extra"]["type"].__visit_name__.upper() == "JSON"
    assert columns["expires"]["type"].__visit_name__.upper() == "TIMESTAMP"
    accounts = {c["name"]: c for c in inspect(db.engine).get_columns("accounts")}
    assert accounts["local"]["type"].__visit_name__.upper() == "BOOLEAN"
    # Integer surrogate keys get their values from the database (identity or serial).
    for table in ("iam_role_policies", "iam_role_attachments", "iam_user_policies", "iam_user_attachments"):
        ident = {c["name"]: c for c in inspect(db.engine).get_columns(table)}["id"]
        assert ident.get("identity") or "nextval" in str(ident.get("default")), table
    db.dispose()


def _server(state: Path, url: str) -> EmbeddedServer:
    return EmbeddedServer(Settings(state_dir=state, port=free_port(), database_url=url))


def _creds(key: dict[str, Any]) -> dict[str, str]:
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    if "SessionToken" in key:
        creds["aws_session_token"] = key["SessionToken"]
    return creds


def test_iam_and_sts_survive_a_restart_on_postgres(tmp_path: Path, fresh_postgres_url: str) -> None:
    state = tmp_path / "state"
    with _server(state, fresh_postgres_url) as first:
        assert first.cove.db.engine.dialect.name == "postgresql"
        account = first.cove.account
        iam = make_client(first, "iam")
        user_arn = iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "ml"}])["User"]["Arn"]
        key = iam.create_access_key(UserName="alice")["AccessKey"]
        iam.put_user_policy(
            UserName="alice",
            PolicyName="may-assume",
            PolicyDocument=_policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
        )
        trust = _policy({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"})
        role = iam.create_role(
            RoleName="worker",
            AssumeRolePolicyDocument=trust,
            Description="runs jobs",
            MaxSessionDuration=7200,
            Tags=[{"Key": "env", "Value": "test"}],
        )["Role"]
        iam.tag_role(RoleName="worker", Tags=[{"Key": "owner", "Value": "alice"}])
        iam.put_role_policy(
            RoleName="worker",
            PolicyName="read-roles",
            PolicyDocument=_policy({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}),
        )
        custom = iam.create_policy(
            PolicyName="list-users",
            PolicyDocument=_policy({"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}),
            Description="custom",
        )["Policy"]
        iam.attach_role_policy(RoleName="worker", PolicyArn=custom["Arn"])
        iam.attach_role_policy(RoleName="worker", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        iam.attach_user_policy(UserName="alice", PolicyArn=custom["Arn"])

        assumed = make_client(first, "sts", **_creds(key)).assume_role(
            RoleArn=role["Arn"], RoleSessionName="job-1", DurationSeconds=3600
        )
        session_creds = _creds(assumed["Credentials"])
        as_role = make_client(first, "iam", **session_creds)
        assert as_role.get_role(RoleName="worker")["Role"]["Arn"] == role["Arn"]
        assert "alice" in [u["UserName"] for u in as_role.list_users()["Users"]]
        before = iam.get_role(RoleName="worker")["Role"]

    # Times were stored and read back as UTC whatever the database server's time zone.
    assert abs(before["CreateDate"] - datetime.now(UTC)) < timedelta(minutes=1)

    with _server(state, fresh_postgres_url) as second:
        assert second.cove.account == account
        iam = make_client(second, "iam")
        after = iam.get_role(RoleName="worker")["Role"]
        assert after == before
        assert after["AssumeRolePolicyDocument"] == json.loads(trust)
        assert after["Description"] == "runs jobs" and after["MaxSessionDuration"] == 7200
        assert sorted((t["Key"], t["Value"]) for t in after["Tags"]) == [("env", "test"), ("owner", "alice")]
        assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["read-roles"]
        attached = {
            p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"]
        }
        assert attached == {custom["Arn"], "arn:aws:iam::aws:policy/ReadOnlyAccess"}
        assert iam.get_policy(PolicyArn=custom["Arn"])["Policy"]["Description"] == "custom"
        assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["may-assume"]
        user = iam.get_user(UserName="alice")["User"]
        assert user["Arn"] == user_arn and user["Tags"] == [{"Key": "team", "Value": "ml"}]
        keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
        assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key["AccessKeyId"], "Active")]

        # The long-term key and the STS session issued before the restart both still sign requests.
        assert make_client(second, "sts", **_creds(key)).get_caller_identity()["Arn"] == user_arn
        me = make_client(second, "sts", **session_creds).get_caller_identity()
        assert me["Arn"] == assumed["AssumedRoleUser"]["Arn"]
        again = make_client(second, "sts", **_creds(key)).assume_role(
            RoleArn=role["Arn"], RoleSessionName="job-2"
        )
        assert make_client(second, "iam", **_creds(again["Credentials"])).get_role(RoleName="worker")

        with second.cove.db.session() as session:
            assert session.scalar(select(func.count()).select_from(Account)) == 1


def test_local_account_is_created_once(tmp_path: Path, fresh_postgres_url: str) -> None:
    settings = Settings(state_dir=tmp_path / "state", database_url=fresh_postgres_url)
    db1, _, first = init_state(settings)
    db1.dispose()
    db2, _, second = init_state(settings)
    assert first == second
    with db2.session() as session:
        assert session.scalars(select(Account.id).where(Account.local.is_(True))).all() == [first.account_id]
        root_keys = session.scalars(select(AccessKey.access_key_id).where(AccessKey.user_id.is_(None))).all()
        assert root_keys == [first.access_key_id]
        aws_policies = session.scalar(
            select(func.count()).select_from(ManagedPolicy).where(ManagedPolicy.account_id.is_(None))
        )
        assert aws_policies == len(AWS_MANAGED_POLICIES)
    db2.dispose()


def test_chosen_account_id_and_root_key_on_postgres(tmp_path: Path, fresh_postgres_url: str) -> None:
    settings = Settings(
        state_dir=tmp_path / "state",
        database_url=fresh_postgres_url,
        account_id="123456789012",
        root_access_key_id="AKIDCOVETEST",
        root_secret_access_key="cove-test-secret",
    )
    for _restart in range(2):
        db, _, account = init_state(settings)
        db.dispose()
        assert account == LocalAccount("123456789012", "AKIDCOVETEST", "cove-test-secret")


def _first_start(state: Path, url: str) -> tuple[str, str]:
    db, _, account = init_state(Settings(state_dir=state, database_url=url))
    db.dispose()
    return account.account_id, account.access_key_id


def test_concurrent_first_starts_agree(tmp_path: Path, fresh_postgres_url: str) -> None:
    """Several servers starting at once on an empty database: one migrates and seeds, all agree."""
    state = tmp_path / "state"
    RootKey.load_or_create(state / "root.key")
    # Processes, not threads: alembic keeps its migration context in module globals. Forked, so
    # nothing is imported again and the test stays quick.
    with multiprocessing.get_context("fork").Pool(4) as pool:
        started = pool.starmap(_first_start, [(state, fresh_postgres_url)] * 4)
    assert len(set(started)) == 1
    db = Database(fresh_postgres_url)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1
    db.dispose()


def test_database_does_not_reveal_secrets(tmp_path: Path, fresh_postgres_url: str) -> None:
    settings = Settings(state_dir=tmp_path / "state", database_url=fresh_postgres_url)
    db, _key, account = init_state(settings)
    with db.engine.connect() as conn:
        dump = "\n".join(
            str(row[0])
            for table in sorted(_IDENTITY_TABLES)
            for row in conn.execute(text(f"SELECT t::text FROM {table} AS t"))
        )
    db.dispose()
    assert account.access_key_id in dump
    assert account.secret_access_key not in dump


def test_session_database_is_usable(postgres_url: str) -> None:
    assert postgres_url.endswith("/cove")
    db = Database(postgres_url)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar() == "cove"
    db.dispose()
