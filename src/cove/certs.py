"""Cove's certificate authority: HTTPS for the services reached through interface endpoints.

One CA per state directory (`ca/ca.pem`, key `ca/ca.key` mode 0600); jobs trust it through
`AWS_CA_BUNDLE`. Each listener gets a short-lived leaf certificate for its service names and
address, issued on demand and never reused across state directories.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateAuthority"]

_DAY = datetime.timedelta(days=1)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


class CertificateAuthority:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.bundle = directory / "ca.pem"
        key_path = directory / "ca.key"
        if self.bundle.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self._key = key
            self._cert = x509.load_pem_x509_certificate(self.bundle.read_bytes())
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cove local CA")])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + 3650 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self._key, hashes.SHA256())
        )
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(key_path, pem, 0o600)
        _write(self.bundle, self._cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def server_context(self, names: list[str], addresses: list[str]) -> ssl.SSLContext:
        """A TLS server context with a fresh leaf certificate for `names` and `addresses`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        alternatives: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
        alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in dict.fromkeys(addresses)]
        subject = names[0] if names else addresses[0]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:64])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + 365 * _DAY)
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        # The ssl module loads chains from files only: a private, short-lived pair.
        leaf_dir = self.directory / "issued"
        leaf_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=leaf_dir, suffix=".pem")
        try:
            os.fchmod(fd, 0o600)
            os.write(
                fd,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                + cert.public_bytes(serialization.Encoding.PEM)
                + self._cert.public_bytes(serialization.Encoding.PEM),
            )
            os.close(fd)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
        return context
