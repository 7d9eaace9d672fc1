"""AddTags / ListTags / DeleteTags, and tags given at Create time."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer
from tests.services.sagemaker.conftest import processing_request, training_request, unique


def test_create_tags_then_add_list_delete(sm: Any, role_arn: str) -> None:
    name = unique("tag")
    arn = sm.create_training_job(**training_request(name, role_arn, Tags=[{"Key": "team", "Value": "ml"}]))[
        "TrainingJobArn"
    ]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    added = sm.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}]
    )
    assert added["Tags"] == [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "data"},
        {"Key": "env", "Value": "dev"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "absent"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]


def test_list_tags_pages(sm: Any, role_arn: str) -> None:
    arn = sm.create_processing_job(**processing_request(unique("ptag"), role_arn))["ProcessingJobArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{n:02d}", "Value": str(n)} for n in range(50)])
    first = sm.list_tags(ResourceArn=arn, MaxResults=50)
    assert len(first["Tags"]) == 50 and "NextToken" not in first
    with pytest.raises(ClientError) as exc:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "x"}])
    assert exc.value.response["Error"]["Code"] == "ResourceLimitExceeded"


def test_tags_of_unknown_or_foreign_resources(sm: Any, cove_server: EmbeddedServer) -> None:
    account = cove_server.cove.account.account_id
    missing = f"arn:aws:sagemaker:us-east-1:{account}:training-job/never-created"
    with pytest.raises(ClientError) as exc:
        sm.list_tags(ResourceArn=missing)
    assert exc.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Requested resource not found.",
    }
    with pytest.raises(ClientError) as exc:
        sm.add_tags(ResourceArn="arn:aws:sagemaker:eu-west-1:123456789012:training-job/x", Tags=[])
    assert exc.value.response["Error"]["Code"] == "ValidationException"
