"""The serving TLS context: TLS 1.2 minimum, client-CA enforcement, reload on content change."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from webhook.certs import generate_bundle, write_bundle
from webhook.tls import ServingTLS, TLSConfigError


@pytest.fixture()
def certs(tmp_path: Path):
    return write_bundle(generate_bundle(ip_addresses=["127.0.0.1"]), tmp_path / "live")


def test_context_requires_tls_1_2(certs) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    assert tls.context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert tls.context.verify_mode == ssl.CERT_NONE


def test_client_ca_makes_client_certificates_required(certs) -> None:
    tls = ServingTLS(certs.cert, certs.key, client_ca_path=certs.ca_cert)
    assert tls.context.verify_mode == ssl.CERT_REQUIRED


def test_unchanged_files_are_not_reloaded(certs) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    assert tls.reload_if_changed() is False
    assert tls.reloads == 0


def test_rotated_files_are_reloaded(certs, tmp_path: Path) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    before = tls.not_after()
    rotated = write_bundle(generate_bundle(days=30), tmp_path / "next")
    shutil.copy(rotated.cert, certs.cert)
    shutil.copy(rotated.key, certs.key)
    assert tls.reload_if_changed() is True
    assert tls.reloads == 1
    assert tls.not_after() < before


def test_a_broken_rotation_keeps_the_current_certificate(certs, tmp_path: Path) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    other = write_bundle(generate_bundle(), tmp_path / "other")
    shutil.copy(other.key, certs.key)  # key no longer matches the certificate
    assert tls.reload_if_changed() is False
    assert tls.reloads == 0


def test_mismatched_certificate_and_key_is_a_clear_error(certs, tmp_path: Path) -> None:
    other = write_bundle(generate_bundle(), tmp_path / "other")
    with pytest.raises(TLSConfigError, match="cannot be used together"):
        ServingTLS(certs.cert, other.key)


def test_missing_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match="cannot read"):
        ServingTLS(tmp_path / "nope.crt", tmp_path / "nope.key")
