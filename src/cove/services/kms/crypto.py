"""Key material and the cryptography KMS performs with it (the ``cryptography`` package).

Symmetric ciphertext blobs are self-describing and authenticated::

    0x01 | len(key id) | key id | material version (4 bytes) | nonce (12) | AES-256-GCM output

The header and the canonical encryption context are the associated data, so changing any byte,
the key id, the version or the context makes decryption fail.
"""

from __future__ import annotations

import json
import secrets
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cove.aws.errors import ValidationException
from cove.services.kms.errors import (
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInvalidSignatureException,
)

__all__ = [
    "SPECS",
    "CiphertextHeader",
    "KeySpecInfo",
    "asymmetric_decrypt",
    "asymmetric_encrypt",
    "canonical_context",
    "new_material",
    "parse_header",
    "public_key_der",
    "seal_context",
    "sign",
    "symmetric_decrypt",
    "symmetric_encrypt",
    "verify",
]

_BLOB_VERSION = 1
_NONCE = 12


@dataclass(frozen=True, slots=True)
class KeySpecInfo:
    usages: tuple[str, ...]
    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()


_RSA_SIGNING = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)
_RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")

SPECS: dict[str, KeySpecInfo] = {
    "SYMMETRIC_DEFAULT": KeySpecInfo(("ENCRYPT_DECRYPT",), encryption=("SYMMETRIC_DEFAULT",)),
    "RSA_2048": KeySpecInfo(("ENCRYPT_DECRYPT", "SIGN_VERIFY"), _RSA_ENCRYPTION, _RSA_SIGNING),
    "RSA_3072": KeySpecInfo(("ENCRYPT_DECRYPT", "SIGN_VERIFY"), _RSA_ENCRYPTION, _RSA_SIGNING),
    "RSA_4096": KeySpecInfo(("ENCRYPT_DECRYPT", "SIGN_VERIFY"), _RSA_ENCRYPTION, _RSA_SIGNING),
    "ECC_NIST_P256": KeySpecInfo(("SIGN_VERIFY",), signing=("ECDSA_SHA_256",)),
    "ECC_NIST_P384": KeySpecInfo(("SIGN_VERIFY",), signing=("ECDSA_SHA_384",)),
    "ECC_NIST_P521": KeySpecInfo(("SIGN_VERIFY",), signing=("ECDSA_SHA_512",)),
    "ECC_SECG_P256K1": KeySpecInfo(("SIGN_VERIFY",), signing=("ECDSA_SHA_256",)),
}

_CURVES: dict[str, ec.EllipticCurve] = {
    "ECC_NIST_P256": ec.SECP256R1(),
    "ECC_NIST_P384": ec.SECP384R1(),
    "ECC_NIST_P521": ec.SECP521R1(),
    "ECC_SECG_P256K1": ec.SECP256K1(),
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def seal_context(key_id: str, version: int) -> str:
    """What the root key binds a sealed material version to: it cannot move to another key or version."""
    return f"kms:key-material:{key_id}:{version}"


def canonical_context(context: dict[str, str] | None) -> bytes:
    return json.dumps(context or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def new_material(key_spec: str) -> bytes:
    """Fresh key material: 32 random bytes for AES, a PKCS#8 PEM private key otherwise."""
    if key_spec == "SYMMETRIC_DEFAULT":
        return secrets.token_bytes(32)
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if key_spec.startswith("RSA_"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=int(key_spec[4:]))
    else:
        private = ec.generate_private_key(_CURVES[key_spec])
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# Symmetric encryption


@dataclass(frozen=True, slots=True)
class CiphertextHeader:
    key_id: str
    version: int
    header: bytes
    body: bytes


def _header(key_id: str, version: int) -> bytes:
    raw = key_id.encode()
    return bytes([_BLOB_VERSION, len(raw)]) + raw + struct.pack(">I", version)


def _invalid() -> InvalidCiphertextException:
    return InvalidCiphertextException("")


def parse_header(blob: bytes) -> CiphertextHeader:
    """The key id and material version a symmetric blob names (not yet authenticated)."""
    if len(blob) < 2 or blob[0] != _BLOB_VERSION:
        raise _invalid()
    size = blob[1]
    end = 2 + size + 4
    if len(blob) < end + _NONCE + 16:
        raise _invalid()
    try:
        key_id = blob[2 : 2 + size].decode("ascii")
    except UnicodeDecodeError:
        raise _invalid() from None
    (version,) = struct.unpack(">I", blob[2 + size : end])
    return CiphertextHeader(key_id, version, blob[:end], blob[end:])


def symmetric_encrypt(
    material: bytes, key_id: str, version: int, plaintext: bytes, context: dict[str, str] | None
) -> bytes:
    header = _header(key_id, version)
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(material).encrypt(nonce, plaintext, header + canonical_context(context))
    return header + nonce + sealed


def symmetric_decrypt(material: bytes, parsed: CiphertextHeader, context: dict[str, str] | None) -> bytes:
    nonce, sealed = parsed.body[:_NONCE], parsed.body[_NONCE:]
    try:
        return AESGCM(material).decrypt(nonce, sealed, parsed.header + canonical_context(context))
    except InvalidTag:
        raise _invalid() from None


# Asymmetric keys


def _private(material: bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(material, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError("unexpected key type")
    return key


def public_key_der(material: bytes) -> bytes:
    return (
        _private(material)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _oaep(algorithm: str) -> padding.OAEP:
    digest: hashes.HashAlgorithm = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def asymmetric_encrypt(material: bytes, algorithm: str, plaintext: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, rsa.RSAPrivateKey)
    try:
        return key.public_key().encrypt(plaintext, _oaep(algorithm))
    except ValueError:
        raise ValidationException(
            f"Plaintext is too long for the key spec and encryption algorithm {algorithm}."
        ) from None


def asymmetric_decrypt(material: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, rsa.RSAPrivateKey)
    try:
        return key.decrypt(ciphertext, _oaep(algorithm))
    except ValueError:
        raise _invalid() from None


def _hash_for(algorithm: str) -> hashes.HashAlgorithm:
    return _HASHES[algorithm.rsplit("_", 1)[-1]]()


def _prepared(
    algorithm: str, message: bytes, message_type: str
) -> tuple[bytes, hashes.HashAlgorithm | utils.Prehashed]:
    digest = _hash_for(algorithm)
    if message_type == "DIGEST":
        if len(message) != digest.digest_size:
            raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
        return message, utils.Prehashed(digest)
    if len(message) > 4096:
        raise ValidationException(
            "Message is too long for signing; use MessageType DIGEST for messages over 4096 bytes."
        )
    return message, digest


def _check_algorithm(key_spec: str, algorithm: str) -> None:
    if algorithm not in SPECS[key_spec].signing:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key_spec}.")


def sign(material: bytes, key_spec: str, algorithm: str, message: bytes, message_type: str) -> bytes:
    _check_algorithm(key_spec, algorithm)
    data, chosen = _prepared(algorithm, message, message_type)
    key = _private(material)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(chosen))
    return key.sign(data, _rsa_padding(algorithm), chosen)


def verify(
    material: bytes, key_spec: str, algorithm: str, message: bytes, message_type: str, signature: bytes
) -> None:
    """Returns when the signature is valid; raises KMSInvalidSignatureException otherwise."""
    _check_algorithm(key_spec, algorithm)
    data, chosen = _prepared(algorithm, message, message_type)
    public = _private(material).public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(chosen))
        else:
            public.verify(signature, data, _rsa_padding(algorithm), chosen)
    except InvalidSignature:
        raise KMSInvalidSignatureException("") from None


def _rsa_padding(algorithm: str) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS"):
        # KMS uses a salt as long as the digest.
        return padding.PSS(
            mgf=padding.MGF1(_hash_for(algorithm)), salt_length=_hash_for(algorithm).digest_size
        )
    return padding.PKCS1v15()
