"""celgate as the installed Deployment would run it, minus the kubelet.

The container command is the image's ENTRYPOINT (from the Dockerfile) plus the args of the
rendered Deployment; the process gets what a Pod gets: ``KUBERNETES_SERVICE_HOST``/``PORT``,
the Deployment's env, and a ServiceAccount token (minted with the TokenRequest API), the API
server's CA and the namespace at ``/var/run/secrets/kubernetes.io/serviceaccount/`` — in a
private mount namespace (``unshare --mount``, a tmpfs over /run), so in-cluster configuration
reads exactly the files it reads in a Pod. The ConfigMap volume becomes a directory of its
keys; paths under /etc/celgate move to a temporary directory. The API server reaches the
process through the Service, by an EndpointSlice that points at this host's address (the API
server resolves webhook Services through endpoints with --enable-aggregator-routing).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from controlplane import free_port
from registration import REPO

SA_DIR = "/run/secrets/kubernetes.io/serviceaccount"
_MOUNT_SA = ('mount -t tmpfs tmpfs /run && mkdir -p {dir} && cp "$0"/token "$0"/ca.crt "$0"/namespace {dir}/ '
             '&& exec "$@"').format(dir=SA_DIR)


def image_entrypoint() -> list[str]:
    text = (REPO / "Dockerfile").read_text()
    match = re.search(r"^ENTRYPOINT (\[.*?\])$", text, re.M | re.S)
    assert match, "no ENTRYPOINT in the Dockerfile"
    return json.loads(match.group(1).replace("\\\n", ""))


def host_address() -> str | None:
    """A non-loopback IPv4 address of this machine (EndpointSlices may not point at loopback)."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                             text=True, timeout=10).stdout
    except OSError:
        return None
    match = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    return match.group(1) if match else None


def can_unshare_mounts() -> bool:
    try:
        return subprocess.run(["unshare", "--mount", "true"], capture_output=True, timeout=10).returncode == 0
    except OSError:
        return False


class InClusterCelgate:
    def __init__(self, workdir: Path, deployment: dict[str, Any], configmaps: dict[str, dict[str, str]],
                 *, api_port: int, ca_path: str, token: str, namespace: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.metrics_port = free_port()
        self.log_path = workdir / "celgate.log"
        self._process: subprocess.Popen[str] | None = None
        sa = workdir / "serviceaccount"
        sa.mkdir(parents=True)
        (sa / "token").write_text(token)
        (sa / "ca.crt").write_text(Path(ca_path).read_text())
        (sa / "namespace").write_text(namespace)
        self._sa = sa
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        local: dict[str, Path] = {}
        for volume in pod["volumes"]:
            path = workdir / "volumes" / volume["name"]
            path.mkdir(parents=True)
            if "configMap" in volume:
                for key, value in configmaps[volume["configMap"]["name"]].items():
                    (path / key).write_text(value)
            local[mounts[volume["name"]]] = path
        argv = [*image_entrypoint(), *container.get("args", [])]
        argv = [sys.executable, "-m", "webhook.cli", *argv[1:]] if argv[0] == "celgate" else argv
        for index, arg in enumerate(argv):
            for mount, path in local.items():
                if arg.startswith(mount):
                    argv[index] = str(path) + arg[len(mount):]
        for flag, port in (("--port", self.port), ("--metrics-port", self.metrics_port)):
            for index in [i for i, a in enumerate(argv) if a == flag]:
                argv[index + 1] = str(port)
        self.argv = argv
        self.env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME", "LANG")},
            "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api_port),
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        for item in container.get("env", []):
            if "value" in item:
                self.env[item["name"]] = item["value"]
            elif item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
                self.env[item["name"]] = namespace

    def start(self, timeout: float = 90) -> "InClusterCelgate":
        log = open(self.log_path, "w")
        self._process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _MOUNT_SA, str(self._sa), *self.argv],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"celgate exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"celgate never became ready:\n{self.log_tail()}")

    def served_certificate(self) -> bytes:
        """The DER certificate a TLS client gets from the webhook port now."""
        import ssl

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True) or b""

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class RequestLoop:
    """Admission requests back to back from a thread; every unexpected outcome is kept."""

    def __init__(self, send: Any, expect: Any) -> None:
        self._send, self._expect = send, expect
        self._stop = threading.Event()
        self.sent = 0
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self._send()
            self.sent += 1
            problem = self._expect(outcome)
            if problem:
                self.failures.append(problem)

    def __enter__(self) -> "RequestLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
