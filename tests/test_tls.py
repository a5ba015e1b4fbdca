"""The serving TLS, against real TLS clients: protocols, ciphers, client certificates, reloads.

Every refusal is checked twice: against ``celgate serve`` (refused) and against a permissive
TLS server on the same certificate (accepted), so a refusal proves celgate's policy, not a
client that could not speak the old protocol or cipher in the first place.
"""

from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.server_process import ServerProcess
from webhook.certs import generate_bundle, generate_ca, issue_certificate, write_bundle
from webhook.tls import TLS12_CIPHERS, ServingTLS, TLSConfigError

POLICIES = Path(__file__).parent / "fixtures" / "server" / "policies"
SERVE_ARGS = ["--policies", str(POLICIES), "--workers", "1", "--reload-interval", "0.2"]


# ----------------------------------------------------------------------------- helpers


def _write_pem(directory: Path, name: str, cert: x509.Certificate, key) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _rsa_serving_cert(directory: Path) -> tuple[Path, Path]:
    """An RSA certificate: the RSA key exchange and DHE suites need one to be offered at all."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "celgate-rsa")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    return _write_pem(directory, "rsa", cert, key)


def _client_cert(directory: Path, name: str) -> tuple[Path, tuple[Path, Path]]:
    """A CA (its PEM path) and a client certificate it signed (cert and key paths)."""
    ca, ca_key = generate_ca(f"{name}-ca")
    ca_path = directory / f"{name}-ca.crt"
    directory.mkdir(parents=True, exist_ok=True)
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert, key = issue_certificate(ca, ca_key, common_name="kube-apiserver", client=True)
    return ca_path, _write_pem(directory, f"{name}-client", cert, key)


def _client(*, version: ssl.TLSVersion | None = None, ciphers: str | None = None,
            cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A TLS client that does not verify the server (the tests are about what the server allows)
    and can be pinned to one protocol version or cipher, however old."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pinning TLS 1.0/1.1 is the point
        if version is not None:
            context.minimum_version = context.maximum_version = version
    if ciphers is not None:
        context.set_ciphers(f"{ciphers}:@SECLEVEL=0")
    elif version is not None and version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("ALL:@SECLEVEL=0")
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def _get_healthz(port: int, context: ssl.SSLContext) -> tuple[str, str]:
    """Handshake, GET /healthz, return (negotiated cipher, status line); raises on any refusal.
    The request matters with TLS 1.3: a missing client certificate is only reported after the
    client's handshake is done, on its first read."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            response = b""
            while b"\r\n" not in response:
                chunk = tls.recv(4096)
                if not chunk:
                    raise ConnectionError("server closed the connection without an answer")
                response += chunk
            cipher = tls.cipher()
            assert cipher is not None
            return cipher[0], response.split(b"\r\n", 1)[0].decode()


_REFUSED = (ssl.SSLError, ConnectionError, OSError)


def _refused(port: int, context: ssl.SSLContext) -> bool:
    try:
        _get_healthz(port, context)
    except _REFUSED:
        return True
    return False


# OpenSSL 3 refuses client-initiated renegotiation unless this option (SSL_OP_BIT(8)) is set;
# Python has no name for it. The control server sets it, celgate's OP_NO_RENEGOTIATION forbids all.
_OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8


@pytest.fixture()
def permissive_server() -> Iterator[Callable[[Path, Path], int]]:
    """A TLS server on a given certificate that accepts any protocol and cipher OpenSSL has."""
    stops: list[Callable[[], None]] = []

    def start(cert: Path, key: Path) -> int:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.options |= _OP_ALLOW_CLIENT_RENEGOTIATION
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.load_cert_chain(cert, key)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    raw, _ = listener.accept()
                except (socket.timeout, OSError):
                    continue
                try:
                    with context.wrap_socket(raw, server_side=True) as tls:
                        tls.settimeout(5)
                        tls.recv(4096)
                        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except (ssl.SSLError, OSError):
                    raw.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)
            listener.close()

        stops.append(halt)
        return listener.getsockname()[1]

    yield start
    for halt in stops:
        halt()


@pytest.fixture(scope="module")
def ec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess.with_certs(tmp_path_factory.mktemp("ec"), SERVE_ARGS) as server:
        yield server


@pytest.fixture(scope="module")
def rsa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path, Path]]:
    directory = tmp_path_factory.mktemp("rsa")
    cert, key = _rsa_serving_cert(directory)
    process = ServerProcess([*SERVE_ARGS, "--tls-cert", str(cert), "--tls-key", str(key)], cert_dir=directory)
    process._wait_healthy = lambda timeout: None  # type: ignore[method-assign]  # no CA to verify it with
    with process as server:
        _wait_for(lambda: not _refused(server.port, _client()))
        yield server, cert, key


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met within the deadline")


def _ec_cert(server: ServerProcess) -> tuple[Path, Path]:
    assert server.cert_dir is not None
    return server.cert_dir / "tls.crt", server.cert_dir / "tls.key"


# ----------------------------------------------------------------------------- protocols


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLSv1.0", "TLSv1.1"])
def test_tls_1_0_and_1_1_are_refused(ec_server: ServerProcess, permissive_server, version) -> None:
    control = permissive_server(*_ec_cert(ec_server))
    assert not _refused(control, _client(version=version)), "the client cannot speak it: the test proves nothing"
    assert _refused(ec_server.port, _client(version=version))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLSv1.2", "TLSv1.3"])
def test_tls_1_2_and_1_3_are_served(ec_server: ServerProcess, version) -> None:
    _, status = _get_healthz(ec_server.port, _client(version=version))
    assert status == "HTTP/1.1 200 OK"


# ----------------------------------------------------------------------------- ciphers

# TLS 1.2 suites Go or OpenSSL would still negotiate, each refused: CBC with ECDHE (Go's
# defaults keep the SHA-1 ones), static RSA key exchange (no forward secrecy). Finite-field DHE
# is not offered either (no DH parameters are loaded); the control server has none to show it.
WEAK_RSA_CIPHERS = [
    "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA256",
    "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA",
]
WEAK_EC_CIPHERS = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256"]


@pytest.mark.parametrize("cipher", WEAK_RSA_CIPHERS)
def test_weak_tls_1_2_ciphers_are_refused_with_an_rsa_certificate(rsa_server, permissive_server, cipher) -> None:
    server, cert, key = rsa_server
    client = _client(version=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    assert _get_healthz(permissive_server(cert, key), client)[0] == cipher, "the control did not negotiate it"
    assert _refused(server.port, client)


@pytest.mark.parametrize("cipher", WEAK_EC_CIPHERS)
def test_weak_tls_1_2_ciphers_are_refused_with_an_ecdsa_certificate(ec_server, permissive_server, cipher) -> None:
    client = _client(version=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    assert _get_healthz(permissive_server(*_ec_cert(ec_server)), client)[0] == cipher
    assert _refused(ec_server.port, client)


@pytest.mark.parametrize("cipher", [c for c in TLS12_CIPHERS if "-RSA-" in c])
def test_ecdhe_aead_ciphers_are_served_with_an_rsa_certificate(rsa_server, cipher) -> None:
    server, _, _ = rsa_server
    assert _get_healthz(server.port, _client(version=ssl.TLSVersion.TLSv1_2, ciphers=cipher)) == (cipher, "HTTP/1.1 200 OK")


@pytest.mark.parametrize("cipher", [c for c in TLS12_CIPHERS if "-ECDSA-" in c])
def test_ecdhe_aead_ciphers_are_served_with_an_ecdsa_certificate(ec_server, cipher) -> None:
    assert _get_healthz(ec_server.port, _client(version=ssl.TLSVersion.TLSv1_2, ciphers=cipher)) == (cipher, "HTTP/1.1 200 OK")


def test_the_offered_tls_1_2_ciphers_are_exactly_ecdhe_with_an_aead(tmp_path: Path) -> None:
    certs = write_bundle(generate_bundle(), tmp_path)
    offered = {c["name"] for c in ServingTLS(certs.cert, certs.key).context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert offered == set(TLS12_CIPHERS)
    assert all(name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name) for name in offered)
    tls13 = {c["name"] for c in ServingTLS(certs.cert, certs.key).context.get_ciphers() if c["protocol"] == "TLSv1.3"}
    assert tls13 <= {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}, tls13


def _renegotiate(port: int) -> str:
    """Ask for a TLS 1.2 renegotiation (openssl s_client's R command); what s_client printed."""
    client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert client.stdin is not None
    time.sleep(1.0)
    client.stdin.write("R\n")
    client.stdin.flush()
    try:
        return client.communicate(timeout=3)[0]
    except subprocess.TimeoutExpired:  # still connected: renegotiated, waiting for more input
        client.kill()
        return client.communicate()[0]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_client_initiated_renegotiation_is_refused(ec_server, permissive_server) -> None:
    control = _renegotiate(permissive_server(*_ec_cert(ec_server)))
    assert "RENEGOTIATING" in control and "no renegotiation" not in control, control[-800:]
    refused = _renegotiate(ec_server.port)
    assert "RENEGOTIATING" in refused and "no renegotiation" in refused, refused[-800:]


def test_compression_and_renegotiation_are_off(tmp_path: Path) -> None:
    certs = write_bundle(generate_bundle(), tmp_path)
    context = ServingTLS(certs.cert, certs.key).context
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.options & ssl.OP_NO_RENEGOTIATION


# ----------------------------------------------------------------------------- client certificates


@pytest.fixture()
def mutual_tls(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path, tuple[Path, Path]]]:
    """celgate serve --client-ca-file: the client CA's file and a client certificate it signed."""
    ca_path, client = _client_cert(tmp_path / "clients", "apiserver")
    live_ca = tmp_path / "client-ca.crt"
    shutil.copy(ca_path, live_ca)
    server = ServerProcess.with_certs(tmp_path, [*SERVE_ARGS, "--client-ca-file", str(live_ca)])
    server.client_cert = client
    with server:
        yield server, live_ca, client


def test_with_a_client_ca_a_client_without_a_certificate_is_refused(mutual_tls) -> None:
    server, _, _ = mutual_tls
    assert _refused(server.port, _client())
    assert _refused(server.port, _client(version=ssl.TLSVersion.TLSv1_2))


def test_with_a_client_ca_a_certificate_from_another_ca_is_refused(mutual_tls, tmp_path: Path) -> None:
    server, _, _ = mutual_tls
    _, stranger = _client_cert(tmp_path / "stranger", "stranger")
    assert _refused(server.port, _client(cert=stranger))


def test_with_a_client_ca_a_certificate_it_signed_is_accepted(mutual_tls) -> None:
    server, _, client = mutual_tls
    assert _get_healthz(server.port, _client(cert=client))[1] == "HTTP/1.1 200 OK"
    with server.client() as https:  # the same through httpx, on /validate
        assert https.post("/validate", json={"kind": "AdmissionReview"}).status_code == 400


def test_a_rotated_client_ca_is_trusted_and_the_old_one_no_longer(mutual_tls, tmp_path: Path) -> None:
    server, live_ca, old_client = mutual_tls
    new_ca, new_client = _client_cert(tmp_path / "next", "next")
    shutil.copy(new_ca, live_ca.with_suffix(".new"))
    live_ca.with_suffix(".new").replace(live_ca)
    _wait_for(lambda: not _refused(server.port, _client(cert=new_client)))
    assert _refused(server.port, _client(cert=old_client))


def test_a_broken_client_ca_keeps_the_current_one(mutual_tls) -> None:
    server, live_ca, client = mutual_tls
    live_ca.write_text("not a certificate\n")
    time.sleep(1.0)  # several reload intervals
    assert _get_healthz(server.port, _client(cert=client))[1] == "HTTP/1.1 200 OK"
    assert any("client CA" in line and "rejected" in line for line in server.stderr_lines)


def test_serve_names_an_unusable_client_ca_file(tmp_path: Path) -> None:
    certs = write_bundle(generate_bundle(ip_addresses=["127.0.0.1"]), tmp_path)
    bad = tmp_path / "bad-ca.crt"
    bad.write_text("garbage\n")
    result = subprocess.run([sys.executable, "-m", "webhook.cli", "serve", *SERVE_ARGS, "--tls-cert", str(certs.cert),
                             "--tls-key", str(certs.key), "--client-ca-file", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"client CA {bad} is not a PEM CA bundle" in result.stderr


# ----------------------------------------------------------------------------- the context itself


@pytest.fixture()
def certs(tmp_path: Path):
    return write_bundle(generate_bundle(ip_addresses=["127.0.0.1"]), tmp_path / "live")


def test_context_requires_tls_1_2(certs) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    assert tls.context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert tls.context.verify_mode == ssl.CERT_NONE


def test_client_ca_makes_client_certificates_required_and_turns_off_session_tickets(certs) -> None:
    tls = ServingTLS(certs.cert, certs.key, client_ca_path=certs.ca_cert)
    assert tls.context.verify_mode == ssl.CERT_REQUIRED
    assert tls.current.verify_mode == ssl.CERT_REQUIRED
    assert tls.context.options & ssl.OP_NO_TICKET and tls.context.num_tickets == 0


def test_unchanged_files_are_not_reloaded(certs) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    assert tls.reload_if_changed() is False
    assert tls.reloads == 0


def test_rotated_files_are_reloaded(certs, tmp_path: Path) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    before, context = tls.not_after(), tls.current
    rotated = write_bundle(generate_bundle(days=30), tmp_path / "next")
    shutil.copy(rotated.cert, certs.cert)
    shutil.copy(rotated.key, certs.key)
    assert tls.reload_if_changed() is True
    assert tls.reloads == 1
    assert tls.not_after() < before
    assert tls.current is not context


def test_a_broken_rotation_keeps_the_current_certificate(certs, tmp_path: Path) -> None:
    tls = ServingTLS(certs.cert, certs.key)
    context = tls.current
    other = write_bundle(generate_bundle(), tmp_path / "other")
    shutil.copy(other.key, certs.key)  # key no longer matches the certificate
    assert tls.reload_if_changed() is False
    assert tls.reloads == 0
    assert tls.current is context


def test_mismatched_certificate_and_key_is_a_clear_error(certs, tmp_path: Path) -> None:
    other = write_bundle(generate_bundle(), tmp_path / "other")
    with pytest.raises(TLSConfigError, match="cannot be used together"):
        ServingTLS(certs.cert, other.key)


def test_missing_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TLSConfigError, match="cannot read"):
        ServingTLS(tmp_path / "nope.crt", tmp_path / "nope.key")
