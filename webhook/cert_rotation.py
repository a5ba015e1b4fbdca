"""Self-managed certificates: what the next step for the webhook's Secret is, as a pure function.

The Secret (type kubernetes.io/tls) holds ``tls.crt``/``tls.key`` (what every replica serves),
``ca.crt`` (the trust bundle written into the ValidatingWebhookConfiguration's ``caBundle``)
and ``ca.key`` (the key of the CA that signs, the newest in the bundle).

Rotation never fails a request because trust always comes first (as Gatekeeper's cert
controller and Kyverno do it, in two steps):

1. a new CA is *added* to the bundle, beside the one that signed the certificate being served,
   and the time is recorded in the annotation ``celgate.io/ca-pending-since``;
2. only after ``grace`` seconds — once the API server trusts both — is a serving certificate
   issued by the new CA. Replicas still serving the old one stay trusted: the old CA leaves the
   bundle at the next CA rotation.

A serving certificate alone (same CA) is re-issued directly: the bundle already trusts it.
Both rotate when less than ``rotate_fraction`` of their lifetime is left, or on request:
``kubectl annotate secret celgate-tls celgate.io/rotate=now`` (a CA rotation, then a new
serving certificate).
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from webhook.certs import _pem_key, generate_ca, issue_certificate, service_dns_names

PENDING_ANNOTATION = "celgate.io/ca-pending-since"
ROTATE_ANNOTATION = "celgate.io/rotate"

Action = Literal["create", "trust-new-ca", "issue-serving", "none"]


@dataclass(frozen=True)
class CertPolicy:
    service: str
    namespace: str
    ca_days: float = 730
    cert_days: float = 90
    rotate_fraction: float = 1 / 3
    grace_seconds: float = 20


@dataclass(frozen=True)
class Plan:
    action: Action
    reason: str
    data: dict[str, str] = field(default_factory=dict)  # base64 values, the whole new data
    annotations: dict[str, str | None] = field(default_factory=dict)  # None removes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pem_certs(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def _remaining_fraction(cert: x509.Certificate, now: datetime.datetime) -> float:
    lifetime = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()
    return (cert.not_valid_after_utc - now).total_seconds() / lifetime if lifetime > 0 else 0.0


def _key_matches(cert: x509.Certificate, key: Any) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
        return True
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure means "not by this CA"
        return False


def _serving(ca: x509.Certificate, ca_key: Any, policy: CertPolicy, now: datetime.datetime) -> tuple[bytes, bytes]:
    days = min(policy.cert_days, max((ca.not_valid_after_utc - now).total_seconds() / 86400, 0.0))
    cert, key = issue_certificate(ca, ca_key, common_name=f"{policy.service}.{policy.namespace}.svc",
                                  dns_names=service_dns_names(policy.service, policy.namespace), days=days)
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def _ca(policy: CertPolicy) -> tuple[x509.Certificate, Any]:
    return generate_ca(common_name=f"celgate-ca-{policy.namespace}", days=policy.ca_days)


def plan(data: Mapping[str, str] | None, annotations: Mapping[str, str], policy: CertPolicy,
         now: datetime.datetime) -> Plan:
    """The next step for a Secret with ``data`` (base64 values; None when it does not exist)."""
    if data is None:
        return _fresh(policy, now, "the Secret does not exist")
    raw = {k: base64.b64decode(v) for k, v in data.items()}
    bundle = _pem_certs(raw.get("ca.crt", b""))
    try:
        ca_key = serialization.load_pem_private_key(raw.get("ca.key", b""), password=None)
        serving = x509.load_pem_x509_certificate(raw.get("tls.crt", b""))
    except ValueError:
        return _fresh(policy, now, "the Secret does not hold a usable CA key and certificate")
    signing = next((c for c in bundle if _key_matches(c, ca_key)), None)
    if signing is None:
        return _fresh(policy, now, "ca.key belongs to no certificate in ca.crt")

    pending = annotations.get(PENDING_ANNOTATION)
    if pending:
        since = datetime.datetime.fromisoformat(pending.replace("Z", "+00:00"))
        if (now - since).total_seconds() < policy.grace_seconds:
            return Plan("none", f"waiting for the API server to trust the new CA (since {pending})")
        cert, key = _serving(signing, ca_key, policy, now)
        return Plan("issue-serving", "the new CA is trusted: serving a certificate it signed",
                    {**data, "tls.crt": _b64(cert), "tls.key": _b64(key)}, {PENDING_ANNOTATION: None})

    requested = ROTATE_ANNOTATION in annotations
    if requested or _remaining_fraction(signing, now) < policy.rotate_fraction:
        new_ca, new_key = _ca(policy)
        trusted = new_ca.public_bytes(serialization.Encoding.PEM) + signing.public_bytes(serialization.Encoding.PEM)
        return Plan("trust-new-ca", "rotation requested" if requested else "the CA is close to expiry",
                    {**data, "ca.crt": _b64(trusted), "ca.key": _b64(_pem_key(new_key))},
                    {PENDING_ANNOTATION: now.strftime("%Y-%m-%dT%H:%M:%SZ"), ROTATE_ANNOTATION: None})

    names = set(service_dns_names(policy.service, policy.namespace))
    try:
        sans = set(serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                   .get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = set()
    reason = None
    if not _issued_by(serving, signing):
        reason = "the serving certificate is not signed by the current CA"
    elif _remaining_fraction(serving, now) < policy.rotate_fraction:
        reason = "the serving certificate is close to expiry"
    elif not names <= sans:
        reason = "the serving certificate lacks the Service's DNS names"
    if reason is None:
        return Plan("none", "certificates are current")
    cert, key = _serving(signing, ca_key, policy, now)
    return Plan("issue-serving", reason, {**data, "tls.crt": _b64(cert), "tls.key": _b64(key)})


def _fresh(policy: CertPolicy, now: datetime.datetime, reason: str) -> Plan:
    ca, ca_key = _ca(policy)
    cert, key = _serving(ca, ca_key, policy, now)
    return Plan("create", reason, {
        "ca.crt": _b64(ca.public_bytes(serialization.Encoding.PEM)), "ca.key": _b64(_pem_key(ca_key)),
        "tls.crt": _b64(cert), "tls.key": _b64(key),
    }, {PENDING_ANNOTATION: None, ROTATE_ANNOTATION: None})
