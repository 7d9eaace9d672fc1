"""STS: AssumeRole with trust policies, session credentials, expiry."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer
from cove.services.iam import generation
from cove.services.iam.tables import TemporaryCredential
from tests.conftest import ClientFactory


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def user(client: ClientFactory) -> tuple[str, dict[str, str]]:
    iam = client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _role(client: ClientFactory, principal: object, **kw: object) -> str:
    name = f"r-{uuid.uuid4().hex[:8]}"
    trust = _policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
    arn: str = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust, **kw)["Role"]["Arn"]
    return arn


def test_assume_role_named_in_trust_policy(client: ClientFactory, user: tuple[str, dict[str, str]]) -> None:
    user_arn, creds = user
    role_arn = _role(client, {"AWS": user_arn})
    out = client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=900)
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    assert timedelta(seconds=880) < c["Expiration"] - datetime.now(UTC) <= timedelta(seconds=900)
    role_name = role_arn.rsplit("/", 1)[-1]
    assert out["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role_name}/s1")
    session = {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }
    me = client("sts", **session).get_caller_identity()
    assert me["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert me["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    # A session token that is not the one issued is refused.
    forged = dict(session, aws_session_token=c["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as exc:
        client("sts", **forged).get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_trust_policy_naming_someone_else_denies(
    client: ClientFactory, user: tuple[str, dict[str, str]]
) -> None:
    _, creds = user
    role_arn = _role(client, {"Service": "sagemaker.amazonaws.com"})
    with pytest.raises(ClientError) as exc:
        client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="sess")
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert err["Message"].endswith(f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}")


def test_account_principal_needs_identity_permission(
    client: ClientFactory, user: tuple[str, dict[str, str]]
) -> None:
    user_arn, creds = user
    account = user_arn.split(":")[4]
    role_arn = _role(client, {"AWS": f"arn:aws:iam::{account}:root"})
    with pytest.raises(ClientError):
        client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="sess")
    client("iam").put_user_policy(
        UserName=user_arn.rsplit("/", 1)[-1],
        PolicyName="assume",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}),
    )
    assert client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="sess")["Credentials"]


def test_root_may_not_assume_roles(client: ClientFactory) -> None:
    role_arn = _role(client, {"AWS": "*"})
    with pytest.raises(ClientError) as exc:
        client("sts").assume_role(RoleArn=role_arn, RoleSessionName="sess")
    assert exc.value.response["Error"]["Message"] == "Roles may not be assumed by root accounts."


def test_duration_beyond_role_maximum(client: ClientFactory, user: tuple[str, dict[str, str]]) -> None:
    user_arn, creds = user
    role_arn = _role(client, {"AWS": user_arn}, MaxSessionDuration=3600)
    with pytest.raises(ClientError) as exc:
        client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="sess", DurationSeconds=7200)
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationError"
    assert "MaxSessionDuration" in err["Message"]


def test_session_policy_narrows_the_session(client: ClientFactory, user: tuple[str, dict[str, str]]) -> None:
    user_arn, creds = user
    role_arn = _role(client, {"AWS": user_arn})
    role_name = role_arn.rsplit("/", 1)[-1]
    client("iam").attach_role_policy(
        RoleName=role_name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    only_get = _policy({"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"})
    c = client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=only_get)[
        "Credentials"
    ]
    iam = client(
        "iam",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )
    assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == role_arn
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert "session policy" in exc.value.response["Error"]["Message"]


def test_expired_session_is_refused(
    client: ClientFactory, cove_server: EmbeddedServer, user: tuple[str, dict[str, str]]
) -> None:
    user_arn, creds = user
    role_arn = _role(client, {"AWS": user_arn})
    c = client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="old")["Credentials"]
    with cove_server.cove.db.session() as session:
        row = session.get(TemporaryCredential, c["AccessKeyId"])
        assert row is not None
        row.expires = datetime.now(UTC) - timedelta(seconds=1)
    generation.bump()
    sts = client(
        "sts",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "ExpiredToken"


def test_get_session_token(client: ClientFactory, user: tuple[str, dict[str, str]]) -> None:
    user_arn, creds = user
    c = client("sts", **creds).get_session_token(DurationSeconds=900)["Credentials"]
    me = client(
        "sts",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    ).get_caller_identity()
    assert me["Arn"] == user_arn


def test_assuming_a_role_sets_its_last_use_without_emptying_the_iam_caches(
    client: ClientFactory, user: tuple[str, dict[str, str]]
) -> None:
    user_arn, creds = user
    role_arn = _role(client, {"AWS": user_arn})
    role_name = role_arn.rsplit("/", 1)[-1]
    iam = client("iam")
    assert iam.get_role(RoleName=role_name)["Role"]["RoleLastUsed"] == {}  # now cached
    before = generation.current()
    client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="used")
    # New credentials change no cached key, policy or role: every job asks for some, and each
    # generation move would make the next requests reload keys and policies from the database.
    assert generation.current() == before
    used = iam.get_role(RoleName=role_name)["Role"]["RoleLastUsed"]
    assert abs(used["LastUsedDate"] - datetime.now(UTC)) < timedelta(seconds=30)
    assert used["Region"] == "us-east-1"
