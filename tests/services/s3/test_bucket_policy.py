"""PutBucketPolicy's validation (S3's messages), Get and Delete, on real bucket rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cove.server import EmbeddedServer
from cove.services.s3.policies import (
    MalformedPolicy,
    NoSuchBucketPolicy,
    delete_bucket_policy,
    get_bucket_policy,
    put_bucket_policy,
    validate_bucket_policy,
)
from cove.services.s3.tables import S3Bucket
from tests.conftest import ClientFactory


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body = {"Version": version, **body}
    return json.dumps(body)


def _stmt(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::pol-bucket/*",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def bucket(cove_server: EmbeddedServer) -> Iterator[str]:
    name = f"pol-{uuid.uuid4().hex[:12]}"
    with cove_server.cove.db.session() as session:
        session.add(S3Bucket(name=name, account_id=cove_server.cove.account.account_id, region="us-east-1"))
    yield name
    with cove_server.cove.db.session() as session:
        row = session.get(S3Bucket, name)
        if row is not None:
            session.delete(row)


def test_put_get_delete_round_trip(cove_server: EmbeddedServer, bucket: str) -> None:
    document = _doc(_stmt(Resource=f"arn:aws:s3:::{bucket}/*"))
    db = cove_server.cove.db
    with db.session() as session:
        row = session.get(S3Bucket, bucket)
        assert row is not None
        with pytest.raises(NoSuchBucketPolicy) as exc:
            get_bucket_policy(session, row)
        assert exc.value.status == 404 and exc.value.message == "The bucket policy does not exist"
        assert exc.value.extra == {"BucketName": bucket}
        put_bucket_policy(session, row, document)
    with db.read() as session:
        row = session.get(S3Bucket, bucket)
        assert row is not None and get_bucket_policy(session, row) == document
    with db.session() as session:
        row = session.get(S3Bucket, bucket)
        assert row is not None
        delete_bucket_policy(session, row)
        delete_bucket_policy(session, row)  # deleting twice is fine, as in S3
    with db.read() as session:
        row = session.get(S3Bucket, bucket)
        assert row is not None and row.policy is None


def test_rejected_policy_is_not_stored(cove_server: EmbeddedServer, bucket: str) -> None:
    db = cove_server.cove.db
    with db.session() as session:
        row = session.get(S3Bucket, bucket)
        assert row is not None
        with pytest.raises(MalformedPolicy):
            put_bucket_policy(session, row, _doc(_stmt(Resource="arn:aws:s3:::someone-else/*")))
    with db.read() as session:
        row = session.get(S3Bucket, bucket)
        assert row is not None and row.policy is None


B = "pol-bucket"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "This policy contains invalid Json"),
        ("[]", "This policy contains invalid Json"),
        (_doc(), "Could not parse the policy: Statement is empty!"),
        (_doc(_stmt(Principal=None)), "Missing required field Principal"),
        (_doc(_stmt(Resource="arn:aws:s3:::other-bucket/*")), "Policy has invalid resource"),
        (_doc(_stmt(Resource="arn:aws:s3:::pol-bucket-2")), "Policy has invalid resource"),
        (_doc(_stmt(Resource="arn:aws:sqs:us-east-1:111122223333:q")), "Policy has invalid resource"),
        (_doc(_stmt(Resource="pol-bucket/*")), "Policy has invalid resource"),
        (_doc(_stmt(NotResource="arn:aws:s3:::elsewhere/*", Resource=None)), "Policy has invalid resource"),
        (_doc(_stmt(Action="s3:GetObjekt")), "Policy has invalid action"),
        (_doc(_stmt(Action="iam:CreateUser")), "Policy has invalid action"),
        (_doc(_stmt(Action="s3:Fly*")), "Policy has invalid action"),
        (_doc(_stmt(Action="GetObject")), "Policy has invalid action"),
        (_doc(_stmt(Principal={"AWS": "not-an-arn"})), "Invalid principal in policy"),
        (_doc(_stmt(Principal={"Bogus": "x"})), "Invalid principal in policy"),
        (_doc(_stmt(Effect=None)), "Missing required field Effect"),
        (_doc(_stmt(Resource=None)), "Statement is missing required element"),
        (_doc(_stmt(Action=None)), "Missing required field Action"),
        (
            json.dumps({"Statement": [_stmt(Sid="x" * 10)] * 400}),
            "Policy exceeds the maximum allowed document size.",
        ),
    ],
)
def test_malformed_policies(cove_server: EmbeddedServer, document: str, message: str) -> None:
    with cove_server.cove.db.read() as session, pytest.raises(MalformedPolicy) as exc:
        validate_bucket_policy(session, B, document)
    assert exc.value.code == "MalformedPolicy" and exc.value.status == 400
    assert exc.value.message == message


@pytest.mark.parametrize(
    "document",
    [
        _doc(_stmt()),
        _doc(_stmt(), version=None),
        _doc(_stmt(Resource=["arn:aws:s3:::pol-bucket", "arn:aws:s3:::pol-bucket/*"], Action="s3:*")),
        _doc(_stmt(Resource="arn:aws:s3:::pol-*/*")),
        _doc(_stmt(Resource="arn:aws:s3:::pol-bucket/${aws:username}/*")),
        _doc(_stmt(Action=["s3:Get*", "s3:ListBucket", "s3:GetObjectVersion"])),
        _doc(_stmt(Action="*", Effect="Deny")),
        _doc(_stmt(Principal={"AWS": ["111122223333", "arn:aws:iam::111122223333:role/anything"]})),
        _doc(_stmt(Principal={"Service": "sagemaker.amazonaws.com"})),
        _doc(_stmt(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"}, Effect="Deny")),
        _doc(
            _stmt(
                Effect="Deny",
                Action="s3:*",
                Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
            )
        ),
    ],
)
def test_valid_policies(cove_server: EmbeddedServer, document: str) -> None:
    with cove_server.cove.db.read() as session:
        parsed = validate_bucket_policy(session, B, document)
    assert parsed.statements


def test_principals_of_known_accounts_must_exist(cove_server: EmbeddedServer, client: ClientFactory) -> None:
    account = cove_server.cove.account.account_id
    name = f"pu-{uuid.uuid4().hex[:8]}"
    client("iam").create_user(UserName=name)
    real = _doc(_stmt(Principal={"AWS": f"arn:aws:iam::{account}:user/{name}"}))
    ghost = _doc(_stmt(Principal={"AWS": f"arn:aws:iam::{account}:user/{name}-ghost"}))
    ghost_role = _doc(_stmt(Principal={"AWS": f"arn:aws:iam::{account}:role/no-such-role-{name}"}))
    with cove_server.cove.db.read() as session:
        validate_bucket_policy(session, B, real)
        for document in (ghost, ghost_role):
            with pytest.raises(MalformedPolicy) as exc:
                validate_bucket_policy(session, B, document)
            assert exc.value.message == "Invalid principal in policy"
