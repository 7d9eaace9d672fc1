"""Scenario: data at rest. A KMS key, a bucket whose objects are encrypted under it, proof that the
bytes on disk are ciphertext, a disabled key that makes the object unreadable, a bucket policy that
denies everything not arriving through one VPC endpoint, and the audit trail of it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from cove.scenario.steps import Clients, Steps

__all__ = ["data_steps"]

BUCKET = "sagemaker-cove-scenario-artifacts"
ALIAS = "alias/cove-scenario"
SECRET = b"patient_id,diagnosis\n4711,confidential-marker-e4c1\n"


def _error(call: Any) -> dict[str, Any]:
    try:
        call()
    except ClientError as exc:
        return dict(exc.response["Error"])
    return {}


def _key_id(kms: Any) -> str:
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] == ALIAS and alias.get("TargetKeyId"):
            return str(alias["TargetKeyId"])
    key_id = str(kms.create_key(Description="Cove scenario data key")["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
    return key_id


def data_steps(steps: Steps, client: Clients, state_dir: Path) -> None:
    kms, s3 = client("kms"), client("s3")
    key_id = _key_id(kms)
    kms.enable_key(KeyId=key_id)
    if _error(lambda: s3.head_bucket(Bucket=BUCKET)):
        s3.create_bucket(Bucket=BUCKET)
    try:
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": key_id,
                        }
                    }
                ]
            },
        )
        put = s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=SECRET)
        steps.check(
            "SSE-KMS object",
            put.get("ServerSideEncryption") == "aws:kms",
            f"s3://{BUCKET}/data/train.csv encrypted under {put.get('SSEKMSKeyId', '?')}",
        )
        on_disk = [p for p in (state_dir / "blobs").rglob("*") if p.is_file()]
        leaked = [p for p in on_disk if SECRET[:20] in p.read_bytes()]
        steps.check(
            "no plaintext on disk", bool(on_disk) and not leaked, f"{len(on_disk)} blob files scanned"
        )
        got = s3.get_object(Bucket=BUCKET, Key="data/train.csv")["Body"].read()
        steps.check("read back", got == SECRET, f"{len(got)} bytes decrypted")

        kms.disable_key(KeyId=key_id)
        err = _error(lambda: s3.get_object(Bucket=BUCKET, Key="data/train.csv"))
        kms.enable_key(KeyId=key_id)
        steps.check(
            "disabled key makes the object unreadable",
            err.get("Code") == "KMS.DisabledException",
            f"{err.get('Code')}: {err.get('Message')}",
        )

        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyThroughTheTrainingEndpoint",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/data/*",
                    "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
                }
            ],
        }
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
        err = _error(lambda: s3.get_object(Bucket=BUCKET, Key="data/train.csv"))
        steps.check(
            "bucket policy admits only the VPC endpoint",
            err.get("Code") == "AccessDenied"
            and "explicit deny in a resource-based policy" in err.get("Message", ""),
            err.get("Message", "allowed"),
        )
        s3.delete_bucket_policy(Bucket=BUCKET)

        events = client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}]
        )["Events"]
        names = sorted({e["EventName"] for e in events})
        steps.check("audit trail of key use", {"Decrypt", "DisableKey"} <= set(names), ", ".join(names))
    finally:
        kms.enable_key(KeyId=key_id)
        for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
        s3.delete_bucket(Bucket=BUCKET)
