"""Bucket policy operations through boto3, and a policy granting anonymous reads."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer


def test_policy_round_trip_and_anonymous_read(s3: Any, bucket: str, cove_server: EmbeddedServer) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    s3.put_object(Bucket=bucket, Key="public/readme", Body=b"open")
    s3.put_object(Bucket=bucket, Key="private/x", Body=b"closed")
    url = f"{cove_server.endpoint_url}/{bucket}/public/readme"
    assert httpx.get(url).status_code == 403
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/public/*",
                }
            ],
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == document
    got = httpx.get(url)
    assert got.status_code == 200 and got.content == b"open"
    assert httpx.get(f"{cove_server.endpoint_url}/{bucket}/private/x").status_code == 403
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy="{not json")
    assert exc.value.response["Error"]["Code"] == "MalformedPolicy"
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert httpx.get(url).status_code == 403
