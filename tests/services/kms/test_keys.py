"""KMS key lifecycle, aliases, tags, policies and grants through boto3."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def kms(client: ClientFactory) -> Any:
    return client("kms")


def test_create_and_describe_symmetric_key(kms: Any, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    meta = kms.create_key(Description="d", Tags=[{"TagKey": "team", "TagValue": "ml"}])["KeyMetadata"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{account}:key/{meta['KeyId']}"
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert (meta["KeyUsage"], meta["KeyState"], meta["KeyManager"], meta["Origin"]) == (
        "ENCRYPT_DECRYPT",
        "Enabled",
        "CUSTOMER",
        "AWS_KMS",
    )
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"] and meta["Enabled"] is True
    assert meta["MultiRegion"] is False
    described = kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]
    assert described["KeyId"] == meta["KeyId"] and described["Description"] == "d"
    assert any(k["KeyId"] == meta["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"])
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "ml"}]
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Sid"] == "Enable IAM User Permissions"
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert kms.list_key_policies(KeyId=meta["KeyId"])["PolicyNames"] == ["default"]


def test_unknown_key_and_bad_policy(kms: Any, cove_server: Any) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=missing)
    assert _code(exc) == "NotFoundException"
    assert missing in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        kms.create_key(Policy='{"Statement": [{"Effect": "Allow"')
    assert _code(exc) == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="ENCRYPT_DECRYPT")
    assert _code(exc) == "ValidationException"


def test_description_tags_update(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_key_description(KeyId=key_id, Description="new")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "new"
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    with pytest.raises(ClientError) as exc:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "aws:x", "TagValue": "1"}])
    assert _code(exc) == "TagException"


def test_aliases(kms: Any, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    name = f"alias/test-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=first)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == first
    alias_arn = f"arn:aws:kms:us-east-1:{account}:{name}"
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == first
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=second)
    assert _code(exc) == "AlreadyExistsException"
    kms.update_alias(AliasName=name, TargetKeyId=second)
    listed = kms.list_aliases(KeyId=second)["Aliases"]
    assert [a["AliasName"] for a in listed] == [name] and listed[0]["AliasArn"] == alias_arn
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=first)
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="noprefix", TargetKeyId=first)
    assert _code(exc) == "ValidationException"
    kms.delete_alias(AliasName=name)
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=name)
    assert _code(exc) == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.delete_alias(AliasName=name)
    assert _code(exc) == "NotFoundException"


def test_disable_enable_and_deletion_states(kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert _code(exc) == "DisabledException"
    assert exc.value.response["Error"]["Message"] == f"{arn} is disabled."
    kms.enable_key(KeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]

    with pytest.raises(ClientError) as exc:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6)
    assert _code(exc) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion" and "DeletionDate" in described
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(exc) == "KMSInvalidStateException"
    assert exc.value.response["Error"]["Message"] == f"{arn} is pending deletion."
    with pytest.raises(ClientError) as exc:
        kms.enable_key(KeyId=key_id)
    assert _code(exc) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as exc:
        kms.cancel_key_deletion(KeyId=key_id)
    assert _code(exc) == "KMSInvalidStateException"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_key_policy_put_and_get(kms: Any, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=document)
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == document
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy="not json")
    assert _code(exc) == "MalformedPolicyDocumentException"


def test_grants_lifecycle(kms: Any, client: ClientFactory, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = f"arn:aws:iam::{account}:role/grantee-{uuid.uuid4().hex[:6]}"
    retiring = f"arn:aws:iam::{account}:root"
    made = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=grantee,
        RetiringPrincipal=retiring,
        Operations=["Decrypt", "Encrypt"],
        Constraints={"EncryptionContextSubset": {"app": "x"}},
        Name="g1",
    )
    again = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=grantee,
        RetiringPrincipal=retiring,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"app": "x"}},
        Name="g1",
    )
    assert again["GrantId"] == made["GrantId"]
    listed = kms.list_grants(KeyId=key_id)["Grants"]
    assert [g["GrantId"] for g in listed] == [made["GrantId"]]
    assert listed[0]["Operations"] == ["Decrypt", "Encrypt"] and listed[0]["GranteePrincipal"] == grantee
    assert listed[0]["Constraints"] == {"EncryptionContextSubset": {"app": "x"}}
    retirable = kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]
    assert made["GrantId"] in [g["GrantId"] for g in retirable]
    kms.retire_grant(GrantToken=made["GrantToken"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    other = kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"])
    kms.revoke_grant(KeyId=key_id, GrantId=other["GrantId"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    with pytest.raises(ClientError) as exc:
        kms.revoke_grant(KeyId=key_id, GrantId=other["GrantId"])
    assert _code(exc) == "NotFoundException"
