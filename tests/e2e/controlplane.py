"""A real, throw-away Kubernetes control plane (etcd + kube-apiserver) for e2e tests.

Usage::

    with ControlPlane() as cp:
        kubernetes.config.load_kube_config(config_file=cp.kubeconfig_path)
        ...

Binaries come from ``$CELGATE_CONTROLPLANE_BIN`` (a directory holding ``etcd`` and
``kube-apiserver``) or else from the last output line of
``tests/e2e/build-controlplane.sh`` (which builds them on first use and is a no-op
afterwards). Everything listens on 127.0.0.1 only, on free ports; certificates, the
etcd data dir, logs, the audit log and the kubeconfig live in one temporary
directory that is removed on exit.

There is no controller-manager, scheduler or kubelet: objects are stored and
admitted, never reconciled (deleted namespaces stay Terminating; use a fresh
namespace per test).

This module has no pytest dependency.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build-controlplane.sh"
BIN_ENV = "CELGATE_CONTROLPLANE_BIN"
LOOPBACK = "127.0.0.1"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: Metadata
"""


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started."""


# --------------------------------------------------------------------------- binaries


def find_binaries(build: bool = True, build_timeout: float = 3600) -> Path:
    """Return the directory holding ``etcd`` and ``kube-apiserver``.

    ``$CELGATE_CONTROLPLANE_BIN`` wins; otherwise run the build script (a cached
    no-op after the first, cold, build) and take its last output line.
    """
    env_dir = os.environ.get(BIN_ENV)
    if env_dir:
        bin_dir = Path(env_dir)
    elif build:
        try:
            proc = subprocess.run(
                ["bash", str(BUILD_SCRIPT)],
                stdout=subprocess.PIPE,
                stderr=None,  # build progress goes straight to our stderr
                text=True,
                timeout=build_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise ControlPlaneError(f"{BUILD_SCRIPT} did not finish within {build_timeout} s") from e
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise ControlPlaneError(f"{BUILD_SCRIPT} failed (exit {proc.returncode}); see its stderr above")
        bin_dir = Path(lines[-1])
    else:
        raise ControlPlaneError(f"set {BIN_ENV} or run {BUILD_SCRIPT}")
    for name in ("etcd", "kube-apiserver"):
        if not os.access(bin_dir / name, os.X_OK):
            raise ControlPlaneError(f"{bin_dir / name} is missing or not executable")
    return bin_dir


# --------------------------------------------------------------------------- PKI


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(
    subject: x509.Name,
    public_key,
    issuer: x509.Name,
    issuer_key,
    *,
    ca: bool = False,
    usages=(),
    sans=None,
    aki_key=None,
) -> x509.Certificate:
    now = _dt.datetime.now(_dt.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        b = b.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_key.public_key()), critical=False
        )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _name(cn: str, org: Optional[str] = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def generate_pki(d: Path) -> dict:
    """CA, apiserver serving cert, admin client cert (O=system:masters), SA keypair."""
    d.mkdir(parents=True, exist_ok=True)
    paths = {k: d / v for k, v in {
        "ca_cert": "ca.crt", "ca_key": "ca.key",
        "serving_cert": "apiserver.crt", "serving_key": "apiserver.key",
        "admin_cert": "admin.crt", "admin_key": "admin.key",
        "sa_pub": "sa.pub", "sa_key": "sa.key",
    }.items()}

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("celgate-e2e-ca")
    ca_cert = _issue(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
    _write_key(paths["ca_key"], ca_key)
    _write_cert(paths["ca_cert"], ca_cert)

    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv_cert = _issue(
        _name("kube-apiserver"), srv_key.public_key(), ca_name, ca_key,
        usages=[ExtendedKeyUsageOID.SERVER_AUTH], aki_key=ca_key,
        sans=[
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
        ],
    )
    _write_key(paths["serving_key"], srv_key)
    _write_cert(paths["serving_cert"], srv_cert)

    adm_key = ec.generate_private_key(ec.SECP256R1())
    adm_cert = _issue(
        _name("celgate-e2e-admin", "system:masters"), adm_key.public_key(), ca_name, ca_key,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH], aki_key=ca_key,
    )
    _write_key(paths["admin_key"], adm_key)
    _write_cert(paths["admin_cert"], adm_cert)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(paths["sa_key"], sa_key)
    paths["sa_pub"].write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return paths


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: have the child get SIGTERM if the test process dies without cleanup."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop(proc: Optional[subprocess.Popen], timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


# --------------------------------------------------------------------------- control plane


class ControlPlane:
    """etcd + kube-apiserver on loopback, as a context manager.

    Attributes after ``start()``: ``server_url``, ``kubeconfig_path``, ``ca_path``,
    ``admin_cert``, ``admin_key``, ``audit_log_path``, ``etcd_url``, ``dir``,
    ``apiserver_log_path``, ``etcd_log_path``.
    """

    def __init__(
        self,
        bin_dir: Optional[os.PathLike] = None,
        *,
        ready_timeout: float = 120,
        extra_apiserver_args: Optional[list] = None,
        keep_dir: bool = False,
        audit_policy: Optional[os.PathLike] = None,
    ) -> None:
        self._bin_dir = Path(bin_dir) if bin_dir else None
        self.ready_timeout = ready_timeout
        self.extra_apiserver_args = list(extra_apiserver_args or [])
        # An audit Policy file to start with instead of AUDIT_POLICY (everything at Metadata).
        self.audit_policy = Path(audit_policy) if audit_policy else None
        self.keep_dir = keep_dir or bool(os.environ.get("CELGATE_KEEP_CONTROLPLANE_DIR"))
        self.dir: Optional[Path] = None
        self._etcd: Optional[subprocess.Popen] = None
        self._apiserver: Optional[subprocess.Popen] = None
        self._logs: list = []

    # -- context manager

    def __enter__(self) -> "ControlPlane":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- lifecycle

    def start(self) -> "ControlPlane":
        bin_dir = self._bin_dir or find_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="celgate-cp-"))
        try:
            pki = generate_pki(self.dir / "pki")
            self.ca_path = str(pki["ca_cert"])
            self.admin_cert = str(pki["admin_cert"])
            self.admin_key = str(pki["admin_key"])
            self._pki = pki
            self.etcd_log_path = self.dir / "etcd.log"
            self.apiserver_log_path = self.dir / "kube-apiserver.log"
            self.audit_log_path = str(self.dir / "audit.log")
            self.audit_policy_path = self.dir / "audit-policy.yaml"
            self.audit_policy_path.write_text(self.audit_policy.read_text() if self.audit_policy else AUDIT_POLICY)
            self._start_etcd(bin_dir / "etcd")
            self._start_apiserver(bin_dir / "kube-apiserver")
            self.kubeconfig_path = str(self._write_kubeconfig())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _stop(self._apiserver)
        _stop(self._etcd)
        self._apiserver = self._etcd = None
        for f in self._logs:
            f.close()
        self._logs = []
        if self.dir is not None and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- processes

    def _spawn(self, argv: list, log_path: Path) -> subprocess.Popen:
        log = open(log_path, "ab")
        self._logs.append(log)
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _start_etcd(self, etcd: Path, attempts: int = 3) -> None:
        for attempt in range(attempts):
            client, peer = free_port(), free_port()
            self.etcd_url = f"http://{LOOPBACK}:{client}"
            peer_url = f"http://{LOOPBACK}:{peer}"
            data_dir = self.dir / f"etcd-data-{attempt}"
            self._etcd = self._spawn(
                [
                    str(etcd),
                    "--name=celgate",
                    f"--data-dir={data_dir}",
                    f"--listen-client-urls={self.etcd_url}",
                    f"--advertise-client-urls={self.etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=celgate={peer_url}",
                    "--initial-cluster-state=new",
                    "--unsafe-no-fsync",  # throw-away data: skip fsync for speed
                    "--log-level=warn",
                ],
                self.etcd_log_path,
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self._etcd.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(self.etcd_url + "/health", timeout=2) as r:
                        if json.load(r).get("health") == "true":
                            return
                except (OSError, ValueError):
                    pass
                time.sleep(0.2)
            log = _tail(self.etcd_log_path)
            _stop(self._etcd)
            if "address already in use" in log and attempt + 1 < attempts:
                continue
            raise ControlPlaneError(f"etcd did not become healthy at {self.etcd_url}; log tail:\n{log}")

    def _start_apiserver(self, apiserver: Path, attempts: int = 3) -> None:
        pki = self._pki
        for attempt in range(attempts):
            port = free_port()
            self.server_url = f"https://{LOOPBACK}:{port}"
            argv = [
                str(apiserver),
                f"--etcd-servers={self.etcd_url}",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki['serving_cert']}",
                f"--tls-private-key-file={pki['serving_key']}",
                f"--secure-port={port}",
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",  # never derive it from the default route
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.server_url}/",
                f"--service-account-key-file={pki['sa_pub']}",
                f"--service-account-signing-key-file={pki['sa_key']}",
                f"--client-ca-file={pki['ca_cert']}",
                f"--audit-policy-file={self.audit_policy_path}",
                f"--audit-log-path={self.audit_log_path}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",  # events are on disk when the request returns
                *self.extra_apiserver_args,
            ]
            self._apiserver = self._spawn(argv, self.apiserver_log_path)
            err = self._wait_ready()
            if err is None:
                return
            log = _tail(self.apiserver_log_path)
            _stop(self._apiserver)
            if "address already in use" in log and attempt + 1 < attempts:
                continue
            raise ControlPlaneError(
                f"kube-apiserver at {self.server_url} not ready: {err}\n"
                f"--- tail of {self.apiserver_log_path} ---\n{log}"
            )

    def ssl_context(self) -> ssl.SSLContext:
        """TLS context trusting the CA and presenting the admin client cert."""
        ctx = ssl.create_default_context(cafile=self.ca_path)
        ctx.load_cert_chain(self.admin_cert, self.admin_key)
        return ctx

    def get(self, path: str, timeout: float = 10) -> bytes:
        """GET ``path`` from the apiserver as admin."""
        with urllib.request.urlopen(self.server_url + path, timeout=timeout, context=self.ssl_context()) as r:
            return r.read()

    def _wait_ready(self) -> Optional[str]:
        """Poll /readyz as admin (anonymous access needs RBAC bootstrap first)."""
        deadline = time.monotonic() + self.ready_timeout
        last = "no response yet"
        while time.monotonic() < deadline:
            rc = self._apiserver.poll()
            if rc is not None:
                return f"process exited with code {rc}"
            try:
                body = self.get("/readyz", timeout=5)
                if body.strip() == b"ok":
                    return None
                last = body.decode(errors="replace")[-300:]
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}: {e.read().decode(errors='replace')[-500:]}"
            except (OSError, ssl.SSLError) as e:
                last = repr(e)
            time.sleep(0.5)
        return f"/readyz not ok after {self.ready_timeout:.0f} s (last: {last})"

    def _write_kubeconfig(self) -> Path:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "celgate-e2e", "cluster": {
                "server": self.server_url, "certificate-authority": self.ca_path}}],
            "users": [{"name": "admin", "user": {
                "client-certificate": self.admin_cert, "client-key": self.admin_key}}],
            "contexts": [{"name": "celgate-e2e", "context": {"cluster": "celgate-e2e", "user": "admin"}}],
            "current-context": "celgate-e2e",
            "preferences": {},
        }
        path = self.dir / "kubeconfig"
        path.write_text(json.dumps(cfg, indent=2))  # JSON is valid YAML
        path.chmod(0o600)
        return path

    # -- convenience

    def audit_events(self) -> list:
        """Parsed audit events written so far (one JSON object per line)."""
        try:
            text = Path(self.audit_log_path).read_text()
        except FileNotFoundError:
            return []
        events = []
        for line in text.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:  # blank or a last line still being written
                pass
        return events


if __name__ == "__main__":  # manual check: python tests/e2e/controlplane.py
    with ControlPlane() as cp:
        print("server:", cp.server_url)
        print("kubeconfig:", cp.kubeconfig_path)
        print("version:", cp.get("/version").decode())
