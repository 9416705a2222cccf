"""The privacy network's certificates: one authority in the domain, one certificate per node.

The platform holds the authority (``$SHUYU_HOME/privacy/ca.*``) and issues a certificate to its
own node and one to each party at ``shuyu party add``. A node's identity is the URI in its
certificate's subject alternative name — ``shuyu:platform`` or ``shuyu:party:<id>`` — checked after
every handshake, so a certificate of the same authority issued to another party is not enough.
A party's approval of a computation is an ECDSA signature with its node key over the
computation's digest, verified with the certificate the platform issued.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PLATFORM = "shuyu:platform"
TERM_DAYS = 3 * 365 + 1  # a party's certificate lasts the agreement's three years


def party_identity(party_id: str) -> str:
    return f"shuyu:party:{party_id}"


@dataclass(frozen=True)
class KeyPair:
    cert_pem: str
    key_pem: str


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_authority(name: str = "Shuyu privacy CA", days: int = 3650) -> KeyPair:
    """A self-signed authority that may sign node certificates and nothing below them."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


def issue(authority: KeyPair, identity: str, name: str, days: int = TERM_DAYS) -> KeyPair:
    """A node certificate for ``identity`` (client and server use), signed by ``authority``."""
    ca_cert = x509.load_pem_x509_certificate(authority.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(authority.key_pem.encode(), password=None)
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


def identity_of(cert: str | bytes) -> str:
    """The ``shuyu:`` identity a certificate (PEM text or DER bytes) was issued to, or ``""``."""
    loaded = (
        x509.load_pem_x509_certificate(cert.encode())
        if isinstance(cert, str)
        else x509.load_der_x509_certificate(cert)
    )
    try:
        san = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
    return next((u for u in uris if u.startswith("shuyu:")), "")


def fingerprint(cert_pem: str) -> str:
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def sign(key_pem: str, data: bytes) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def verify(cert_pem: str, data: bytes, signature: str) -> bool:
    """Whether ``signature`` over ``data`` was made with the key of ``cert_pem``."""
    public = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    try:
        public.verify(base64.b64decode(signature, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Credentials:
    """A node's credential files on disk (0600), as :mod:`ssl` loads them."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def write(cls, folder: Path, authority_pem: str, own: KeyPair) -> Credentials:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        creds = cls(folder / "ca.pem", folder / "node.pem", folder / "node.key")
        for path, text in (
            (creds.ca, authority_pem),
            (creds.cert, own.cert_pem),
            (creds.key, own.key_pem),
        ):
            path.touch(mode=0o600)
            path.write_text(text)
        return creds

    def context(self, server: bool) -> ssl.SSLContext:
        """TLS 1.3 both ways, the peer's certificate required and checked against the authority.

        Host names are not checked (nodes are addressed by IP); the peer's ``shuyu:`` identity is,
        by the caller, after the handshake (:func:`identity_of`).
        """
        purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
        ctx = ssl.create_default_context(purpose, cafile=str(self.ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx
