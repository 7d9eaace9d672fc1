"""Real cryptography: ciphertext blobs, encryption context, tampering, rotation, signatures."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cove.keyring import RootKey
from cove.services.kms import crypto
from tests.conftest import ClientFactory


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def kms(client: ClientFactory) -> Any:
    return client("kms")


def test_encrypt_decrypt_with_context(kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    context = {"purpose": "test", "b": "2"}
    out = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"secret data", EncryptionContext=context)
    blob = out["CiphertextBlob"]
    assert out["KeyId"] == meta["Arn"] and b"secret data" not in blob
    # Decrypt needs no KeyId: the blob names its key; context order does not matter.
    back = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"b": "2", "purpose": "test"})
    assert back["Plaintext"] == b"secret data" and back["KeyId"] == meta["Arn"]
    assert (
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=meta["Arn"])["Plaintext"]
        == b"secret data"
    )
    for wrong in ({}, {"purpose": "test"}, {"purpose": "test", "b": "3"}, {**context, "extra": "x"}):
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert _code(exc) == "InvalidCiphertextException"
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=other)
    assert _code(exc) == "IncorrectKeyException"


def test_tampered_ciphertext_is_rejected(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload")["CiphertextBlob"]
    for index in (0, 5, len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[index] ^= 0x01
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=bytes(bad))
        assert _code(exc) in ("InvalidCiphertextException", "NotFoundException")
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob[:-1])
    assert _code(exc) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=b"garbage that is not a kms blob at all........")
    assert _code(exc) == "InvalidCiphertextException"


def test_blob_moved_to_another_key_fails(kms: Any) -> None:
    """Rewriting the key id in the header does not let another key open it."""
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=first, Plaintext=b"payload")["CiphertextBlob"]
    moved = blob.replace(first.encode(), second.encode())
    assert moved != blob
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=moved)
    assert _code(exc) == "InvalidCiphertextException"


def test_data_keys_and_random(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"k": "v"})
    assert len(out["Plaintext"]) == 32
    assert (
        kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"]
        == out["Plaintext"]
    )
    assert len(kms.generate_data_key(KeyId=key_id, KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=key_id, NumberOfBytes=7)["Plaintext"]) == 7
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key_id)
    assert _code(exc) == "ValidationException"
    first, second = (kms.generate_random(NumberOfBytes=64)["Plaintext"] for _ in range(2))
    assert len(first) == 64 and first != second
    with pytest.raises(ClientError) as exc:
        kms.generate_random(NumberOfBytes=1025)
    assert _code(exc) == "ValidationException"


def test_re_encrypt(kms: Any) -> None:
    source = kms.create_key()["KeyMetadata"]
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=dest["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert out["SourceKeyId"] == source["Arn"] and out["KeyId"] == dest["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert back["Plaintext"] == b"move me" and back["KeyId"] == dest["Arn"]


def test_on_demand_rotation_keeps_old_ciphertexts(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    kms.rotate_key_on_demand(KeyId=key_id)
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    new = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert crypto.parse_header(old).version == 1 and crypto.parse_header(new).version == 2
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    assert "OnDemandRotationStartDate" in kms.get_key_rotation_status(KeyId=key_id)


def test_rotation_settings(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    assert "NextRotationDate" in status
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.enable_key_rotation(KeyId=signing)
    assert _code(exc) == "UnsupportedOperationException"


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSA_3072", "RSASSA_PSS_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ],
)
def test_sign_verify(kms: Any, spec: str, algorithm: str) -> None:
    meta = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert algorithm in meta["SigningAlgorithms"] and "EncryptionAlgorithms" not in meta
    message = b"sign this message"
    signature = kms.sign(KeyId=meta["KeyId"], Message=message, SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=meta["KeyId"], Message=message, Signature=signature, SigningAlgorithm=algorithm)[
        "SignatureValid"
    ]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"])
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[algorithm[-3:]]
    # The caller's own cryptography library accepts the KMS signature with the exported key.
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(digest))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            if "PSS" in algorithm
            else padding.PKCS1v15()
        )
        public.verify(signature, message, pad, digest)
    with pytest.raises(ClientError) as exc:
        kms.verify(KeyId=meta["KeyId"], Message=b"other", Signature=signature, SigningAlgorithm=algorithm)
    assert _code(exc) == "KMSInvalidSignatureException"


def test_sign_digest_and_wrong_usage(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    h = hashes.Hash(hashes.SHA256())
    h.update(b"big message")
    digest = h.finalize()
    signature = kms.sign(
        KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    # A DIGEST signature verifies as a RAW signature over the original message.
    assert kms.verify(
        KeyId=key_id, Message=b"big message", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
    )["SignatureValid"]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert _code(exc) == "InvalidKeyUsageException"
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=symmetric, Message=b"x", SigningAlgorithm="ECDSA_SHA_256")
    assert _code(exc) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=key_id, Message=b"x", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert _code(exc) == "InvalidKeyUsageException"


def test_rsa_encryption(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"rsa secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
        "CiphertextBlob"
    ]
    out = kms.decrypt(CiphertextBlob=blob, KeyId=key_id, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"rsa secret"
    # Anyone holding the public key can encrypt for KMS to decrypt.
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    local = public.encrypt(b"from outside", padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
    assert kms.decrypt(CiphertextBlob=local, KeyId=key_id, EncryptionAlgorithm="RSAES_OAEP_SHA_1")[
        "Plaintext"
    ] == (b"from outside")
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert _code(exc) == "InvalidKeyUsageException"


def test_no_key_material_in_clear(kms: Any, cove_server: Any) -> None:
    """The database file holds only sealed material: no AES key or private key appears in it."""
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    asymmetric = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=symmetric, Plaintext=b"x")["CiphertextBlob"]
    state = cove_server.cove.settings.state_dir
    root = (
        RootKey((state / ".cove.key").read_bytes())
        if (state / ".cove.key").exists()
        else cove_server.cove.key
    )
    db_path = cove_server.cove.db.engine.url.database
    with cove_server.cove.db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT key_id, version, sealed FROM kms_key_material WHERE key_id IN (?, ?)",
            (symmetric, asymmetric),
        ).fetchall()
    assert len(rows) == 2
    # Read the files in another process: closing a descriptor of the database file in this one
    # would drop the server's POSIX locks on it.
    wal = Path(db_path + "-wal")
    names = [db_path] + ([str(wal)] if wal.exists() else [])
    raw = subprocess.run(["cat", *names], capture_output=True, check=True).stdout
    assert len(raw) > 0
    for key_id, version, sealed in rows:
        material = root.open(sealed, crypto.seal_context(key_id, version))
        assert material not in raw
        assert material[:16] not in raw and material[-16:] not in raw
        if key_id == symmetric:
            parsed = crypto.parse_header(blob)
            AESGCM(material).decrypt(parsed.body[:12], parsed.body[12:], parsed.header + b"{}")
        else:
            assert b"PRIVATE KEY" in material and b"PRIVATE KEY" not in raw
        # Sealed under another row's context it does not open: material cannot be swapped between keys.
        with pytest.raises(InvalidTag):
            root.open(sealed, crypto.seal_context(key_id, version + 1))
