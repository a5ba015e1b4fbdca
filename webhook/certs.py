"""A CA and a serving certificate for the webhook, made with ``cryptography``.

kube-apiserver verifies the webhook's serving certificate against the ``caBundle`` of the
ValidatingWebhookConfiguration and ignores the CN: the names it dials must be SANs
(``<service>.<namespace>.svc`` in a cluster, an IP SAN such as 127.0.0.1 for a URL webhook).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_SERVICE = "celgate"
DEFAULT_NAMESPACE = "celgate-system"


class CertificateError(Exception):
    """A certificate could not be generated or written."""


@dataclass(frozen=True)
class CertificateBundle:
    """PEM-encoded CA certificate, serving certificate and serving key."""

    ca_cert_pem: bytes
    ca_key_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def ca_bundle(self) -> str:
        """The base64 ``caBundle`` for a ValidatingWebhookConfiguration."""
        return base64.b64encode(self.ca_cert_pem).decode("ascii")


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names a Service is dialled by from inside a cluster."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate_ca(common_name: str = "celgate-ca", days: int = 3650) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    common_name: str,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    client: bool = False,
    organization: str | None = None,
    days: int = 365,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf certificate signed by the CA: serving (SANs) or client (``client=True``)."""
    key = _key()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    try:
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    except ValueError as exc:
        raise CertificateError(f"invalid IP address for a certificate SAN: {exc}") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def generate_bundle(
    *,
    service: str = DEFAULT_SERVICE,
    namespace: str = DEFAULT_NAMESPACE,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    days: int = 365,
) -> CertificateBundle:
    """A fresh CA and a serving certificate for the Service plus any extra names."""
    ca_cert, ca_key = generate_ca()
    names = service_dns_names(service, namespace) + [n for n in dns_names if n]
    cert, key = issue_certificate(
        ca_cert, ca_key, common_name=f"{service}.{namespace}.svc",
        dns_names=dict.fromkeys(names), ip_addresses=ip_addresses, days=days,
    )
    return CertificateBundle(
        ca_cert_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        ca_key_pem=_pem_key(ca_key),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_pem_key(key),
    )


@dataclass(frozen=True)
class WrittenBundle:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


def write_bundle(bundle: CertificateBundle, directory: Path) -> WrittenBundle:
    """Write ``ca.crt``, ``ca.key``, ``tls.crt``, ``tls.key`` (keys 0600) atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = WrittenBundle(
        ca_cert=directory / "ca.crt", ca_key=directory / "ca.key",
        cert=directory / "tls.crt", key=directory / "tls.key",
    )
    for path, data, mode in (
        (paths.ca_cert, bundle.ca_cert_pem, 0o644),
        (paths.ca_key, bundle.ca_key_pem, 0o600),
        (paths.cert, bundle.cert_pem, 0o644),
        (paths.key, bundle.key_pem, 0o600),
    ):
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    return paths
