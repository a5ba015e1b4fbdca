"""Certificate generation: SANs the API server dials, a CA that verifies them, private keys."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from webhook.cli import main as certs_main
from webhook.certs import CertificateError, generate_bundle, issue_certificate, generate_ca, write_bundle


def sans(pem: bytes) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(pem)
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ext.get_values_for_type(x509.DNSName), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def test_serving_certificate_names_the_service_and_extra_sans() -> None:
    bundle = generate_bundle(service="celgate", namespace="celgate-system", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    dns, ips = sans(bundle.cert_pem)
    assert "celgate.celgate-system.svc" in dns
    assert "celgate.celgate-system.svc.cluster.local" in dns
    assert "localhost" in dns
    assert ips == ["127.0.0.1"]


def test_serving_certificate_is_signed_by_the_ca() -> None:
    bundle = generate_bundle()
    ca = x509.load_pem_x509_certificate(bundle.ca_cert_pem)
    leaf = x509.load_pem_x509_certificate(bundle.cert_pem)
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_ca_bundle_is_the_base64_of_the_ca_pem() -> None:
    bundle = generate_bundle()
    assert base64.b64decode(bundle.ca_bundle) == bundle.ca_cert_pem


def test_keys_are_written_owner_only(tmp_path: Path) -> None:
    written = write_bundle(generate_bundle(), tmp_path / "certs")
    assert stat.S_IMODE(written.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.cert.stat().st_mode) == 0o644


def test_an_invalid_ip_san_is_a_clear_error() -> None:
    with pytest.raises(CertificateError, match="invalid IP address"):
        generate_bundle(ip_addresses=["not-an-ip"])


def test_client_certificate_carries_the_organization() -> None:
    ca, key = generate_ca()
    cert, _ = issue_certificate(ca, key, common_name="admin", organization="system:masters", client=True)
    orgs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["system:masters"]


REPO_ROOT = Path(__file__).resolve().parent.parent


def test_celgate_certs_writes_into_certs_by_default_and_git_ignores_what_it_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert certs_main(["certs"]) == 0
    written = sorted(p.name for p in (tmp_path / "certs").iterdir())
    assert written == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    ignored = subprocess.run(["git", "-C", str(REPO_ROOT), "check-ignore", "--no-index", *(f"certs/{n}" for n in written)],
                             capture_output=True, text=True)
    assert ignored.stdout.split() == [f"certs/{n}" for n in written]
