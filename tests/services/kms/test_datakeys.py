"""The functions S3 calls for SSE-KMS, the audit trail, and the AWS CLI."""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cove.aws.context import Principal, RequestContext, SourceContext
from cove.services.cloudtrail.events import flush_events
from cove.services.kms import datakeys
from cove.services.kms.errors import DisabledException, InvalidCiphertextException, KmsAccessDenied
from tests.conftest import ClientFactory
from tests.e2e.test_clients import BIN, _base_env, _cove_env


def _s3_caller(account: str) -> RequestContext:
    root = Principal("root", account, f"arn:aws:iam::{account}:root", account)
    return RequestContext("req-1", "us-east-1", "s3", "PutObject", root, SourceContext(), datetime.now(UTC))


def test_s3_data_keys_with_aws_managed_key(cove_server: Any, client: ClientFactory) -> None:
    cove = cove_server.cove
    account = cove.account.account_id
    caller = _s3_caller(account)
    context = {"aws:s3:arn": "arn:aws:s3:::bucket/key"}
    with cove.db.session() as s:
        arn = datakeys.resolve_key_arn(s, account, "us-east-1", "alias/aws/s3")
        plaintext, blob, used = datakeys.generate_data_key(
            s, cove.key, caller=caller, key_id="alias/aws/s3", context=context
        )
    assert used == arn and len(plaintext) == 32
    meta = client("kms").describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS" and meta["Arn"] == arn
    with cove.db.session() as s:
        assert datakeys.decrypt(s, cove.key, caller=caller, ciphertext=blob, context=context) == (
            plaintext,
            arn,
        )
        with pytest.raises(InvalidCiphertextException):
            datakeys.decrypt(s, cove.key, caller=caller, ciphertext=blob, context={"aws:s3:arn": "other"})
    # Directly through KMS (not via S3) the AWS managed key's policy does not allow decryption.
    with cove.db.session() as s, pytest.raises(KmsAccessDenied):
        datakeys.decrypt(s, cove.key, caller=replace(caller, service="kms"), ciphertext=blob, context=context)


def test_s3_data_keys_with_customer_key_states(cove_server: Any, client: ClientFactory) -> None:
    cove = cove_server.cove
    caller = _s3_caller(cove.account.account_id)
    kms = client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with cove.db.session() as s:
        _, blob, arn = datakeys.generate_data_key(s, cove.key, caller=caller, key_id=key_id, context={})
    # What S3 produces KMS itself can decrypt, and the other way round.
    assert len(kms.decrypt(CiphertextBlob=blob)["Plaintext"]) == 32
    kms.disable_key(KeyId=key_id)
    with cove.db.session() as s, pytest.raises(DisabledException) as exc:
        datakeys.generate_data_key(s, cove.key, caller=caller, key_id=arn, context={})
    assert exc.value.message == f"{arn} is disabled."


def test_kms_calls_are_audited(cove_server: Any, client: ClientFactory) -> None:
    kms = client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    flush_events(cove_server.cove.db)
    events = client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}]
    )["Events"]
    assert {"CreateKey", "Encrypt"} <= {e["EventName"] for e in events}
    record = json.loads(next(e for e in events if e["EventName"] == "Encrypt")["CloudTrailEvent"])
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["resources"][0]["ARN"] == key["Arn"]


def test_aws_cli_encrypt_decrypt(cove_server: Any, tmp_path: Path) -> None:
    env = _base_env() | _cove_env(cove_server)

    def aws(*args: str) -> dict[str, Any]:
        proc = subprocess.run(
            [str(BIN / "aws"), *args, "--output", "json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return out

    key = aws("kms", "create-key", "--description", "cli")["KeyMetadata"]
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT"
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"hello from the cli")
    blob = aws("kms", "encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{secret}")[
        "CiphertextBlob"
    ]
    encrypted = tmp_path / "blob.bin"
    encrypted.write_bytes(base64.b64decode(blob))
    out = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{encrypted}")
    assert base64.b64decode(out["Plaintext"]) == b"hello from the cli" and out["KeyId"] == key["Arn"]
