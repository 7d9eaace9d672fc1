"""Bucket operations through boto3: naming, creation rules, head/list/delete, encryption, tagging."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    "name",
    ["ab", "Upper-case", "-leading", "trailing-", "a..b", "192.168.1.1", "xn--bucket", "x" * 64, "b_under"],
)
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert _error(exc) == ("InvalidBucketName", 400)


def test_create_rules_in_us_east_1(s3: Any, new_bucket: Callable[[], str]) -> None:
    name = new_bucket()
    # us-east-1 answers the owner's repeat create with 200 (the legacy behaviour).
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(
            Bucket=f"x-{uuid.uuid4().hex[:10]}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    assert _error(exc) == ("InvalidLocationConstraint", 400)


def test_other_region_rules(cove_server: Any, new_bucket: Callable[[], str]) -> None:
    from tests.conftest import make_client

    session_client = make_client(cove_server, "s3")
    import boto3
    from botocore.config import Config

    account = cove_server.cove.account
    west = boto3.client(
        "s3",
        endpoint_url=cove_server.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )
    name = f"w-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as exc:
        west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert _error(exc) == ("IllegalLocationConstraintException", 400)
    west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        with pytest.raises(ClientError) as exc:
            west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert _error(exc) == ("BucketAlreadyOwnedByYou", 409)
        assert west.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        assert west.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
    finally:
        session_client.delete_bucket(Bucket=name)
    existing = new_bucket()
    assert session_client.get_bucket_location(Bucket=existing)["LocationConstraint"] is None


def test_bucket_owned_by_another_account(s3: Any, cove_server: Any, bucket: str) -> None:
    from tests.services.s3.helpers import other_account_client

    other = other_account_client(cove_server, "s3")
    with pytest.raises(ClientError) as exc:
        other.create_bucket(Bucket=bucket)
    assert _error(exc) == ("BucketAlreadyExists", 409)


def test_head_list_delete(s3: Any, bucket: str, cove_server: Any) -> None:
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=f"nope-{uuid.uuid4().hex[:8]}")
    assert _error(exc) == ("404", 404)
    assert exc.value.response.get("Error", {}).get("Message") == "Not Found"
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner="111122223333")
    assert _error(exc) == ("403", 403)
    s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=cove_server.cove.account.account_id)
    listed = s3.list_buckets()
    assert bucket in [b["Name"] for b in listed["Buckets"]]
    assert len(listed["Owner"]["ID"]) == 64
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert _error(exc) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_location(Bucket=bucket)
    assert _error(exc) == ("NoSuchBucket", 404)
    assert exc.value.response["Error"]["BucketName"] == bucket
    s3.create_bucket(Bucket=bucket)  # the fixture deletes it again


def test_bucket_encryption(s3: Any, bucket: str) -> None:
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/aws/s3",
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"].startswith("arn:aws:kms:")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}
                ]
            },
        )
    assert _error(exc) == ("InvalidArgument", 400)
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="k2", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _error(exc) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "ml"}]
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}
        )
    assert _error(exc) == ("InvalidTag", 400)
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)
