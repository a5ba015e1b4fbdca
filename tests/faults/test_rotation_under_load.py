"""Certificates rotate under load, every request on a new TLS handshake: a reissue from the same
CA, then a move to a new CA (trusted by the client first, as celgate's own rotation orders it:
webhook/cert_rotation.py), each written non-atomically (certificate first, key a moment later,
so a reload sees a mismatched pair), then garbage in place of the certificate. No request fails;
the new certificate reaches new handshakes; the garbage is rejected and the last good pair serves.
tests/test_server.py covers a rotation without load; tests/test_cert_rotation.py the plan."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fault_reviews import FIXTURE_NAMESPACES, FIXTURE_POLICIES, fixture_cases
from server_tree import metric
from steady_load import SteadyLoad
from tests.server_process import ServerProcess
from webhook.certs import generate_bundle, issue_certificate

RELOAD_INTERVAL = 0.2


def _served_certificate(server: ServerProcess) -> x509.Certificate:
    pem = ssl.get_server_certificate(("127.0.0.1", server.port))
    return x509.load_pem_x509_certificate(pem.encode())


def _write_in_two_steps(live: Path, cert_pem: bytes, key_pem: bytes) -> None:
    (live / "tls.crt").write_bytes(cert_pem)
    time.sleep(3 * RELOAD_INTERVAL)  # a reload meets the new certificate with the old key
    (live / "tls.key").write_bytes(key_pem)


def _wait_served(server: ServerProcess, serial: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        streak = streak + 1 if _served_certificate(server).serial_number == serial else 0
        if streak >= 8:  # both workers, on fresh connections
            return
        time.sleep(0.05)
    raise AssertionError("the rotated certificate never reached new handshakes")


def test_certificates_rotate_under_load_without_a_failed_request(tmp_path: Path) -> None:
    args = ["--policies", str(FIXTURE_POLICIES), *FIXTURE_NAMESPACES, "--workers", "2",
            "--reload-interval", str(RELOAD_INTERVAL)]
    with ServerProcess.with_certs(tmp_path, args) as server:
        live = Path(server.ca).parent
        old_ca = x509.load_pem_x509_certificate((live / "ca.crt").read_bytes())
        old_ca_key = serialization.load_pem_private_key((live / "ca.key").read_bytes(), password=None)
        new = generate_bundle(ip_addresses=["127.0.0.1"], dns_names=["localhost"])
        trust = tmp_path / "trust.pem"  # the caBundle during a CA rotation: old and new CA
        trust.write_bytes((live / "ca.crt").read_bytes() + new.ca_cert_pem)

        def both_cas() -> ssl.SSLContext:
            return ssl.create_default_context(cafile=str(trust))

        with SteadyLoad(server.url, both_cas, fixture_cases(), threads=4, new_connection_each=True) as load:
            load.wait_for(40)
            # 1. reissued by the same CA
            cert, key = issue_certificate(old_ca, old_ca_key, common_name="celgate", ip_addresses=["127.0.0.1"],
                                          dns_names=["localhost"], days=30)  # type: ignore[arg-type]
            _write_in_two_steps(live, cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            _wait_served(server, cert.serial_number)
            load.wait_for(40)
            # 2. a new CA
            _write_in_two_steps(live, new.cert_pem, new.key_pem)
            new_serial = x509.load_pem_x509_certificate(new.cert_pem).serial_number
            _wait_served(server, new_serial)
            load.wait_for(40)
            # 3. garbage where the certificate should be: rejected, the new pair keeps serving
            (live / "tls.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
            time.sleep(5 * RELOAD_INTERVAL)
            load.wait_for(40)
            assert _served_certificate(server).serial_number == new_serial
        report = load.report
        print(f"rotations under load (reissue, new CA, garbage): {report.summary()}")
        assert not report.failures, report.summary()
        only_new = tmp_path / "new-ca.pem"
        only_new.write_bytes(new.ca_cert_pem)
        with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(only_new)), timeout=5) as client:
            assert client.post("/validate", content=fixture_cases()[1].body,
                               headers={"Content-Type": "application/json"}).json()["response"]["allowed"] is False
            scraped = client.get("/metrics").text
        assert metric(scraped, "celgate_tls_certificate_reloads_total") >= 2 * 2  # two rotations, each in both workers
        assert any("rejected, keeping the current ones" in line for line in server.stderr_lines)
