"""``celgate serve`` as a local process that a real API server calls back over TLS.

The serving certificate carries an IP SAN for 127.0.0.1 (the API server ignores the CN), and
``--kubeconfig`` points celgate's informers at the same API server, so namespaceObject,
binding namespaceSelectors and paramRef are answered from live Namespaces and ConfigMaps.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from controlplane import free_port

from webhook.certs import generate_bundle, write_bundle

_SERVING = re.compile(r"on https://127\.0\.0\.1:(\d+)/validate")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGTERM to celgate (which stops its workers) if the test process dies uncleanly."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class CelgateProcessError(RuntimeError):
    """celgate serve did not start or did not become ready."""


class CelgateProcess:
    """One ``celgate serve`` on 127.0.0.1; ``url`` and ``ca_bundle`` go into a webhook config."""

    def __init__(self, workdir: Path, policies: list[Path], kubeconfig: str, *, workers: int = 1,
                 extra_args: list[str] | None = None) -> None:
        self.workdir = workdir
        self.policies = policies
        self.kubeconfig = kubeconfig
        self.workers = workers
        self.extra_args = list(extra_args or [])
        self.port = 0
        self.metrics_port = 0
        self.log_path = workdir / "celgate.log"
        self._process: subprocess.Popen[str] | None = None
        self._announced = threading.Event()
        workdir.mkdir(parents=True, exist_ok=True)
        bundle = generate_bundle(ip_addresses=["127.0.0.1"], dns_names=["localhost"], days=2)
        self._certs = write_bundle(bundle, workdir / "tls")
        self.ca_bundle = bundle.ca_bundle

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/validate"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60) -> "CelgateProcess":
        self.metrics_port = free_port()
        argv = [
            sys.executable, "-m", "webhook.cli", "serve", "--host", "127.0.0.1", "--port", "0",
            "--tls-cert", str(self._certs.cert), "--tls-key", str(self._certs.key),
            "--kubeconfig", self.kubeconfig, "--workers", str(self.workers),
            "--metrics-port", str(self.metrics_port), "--reload-interval", "1",
        ]
        for path in self.policies:
            argv += ["--policies", str(path)]
        argv += self.extra_args
        self._announced.clear()
        self._process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._announced.wait(0.1):
            if not self.running or time.monotonic() > deadline:
                self.stop()
                raise CelgateProcessError(f"celgate serve did not announce its port:\n{self.log_tail()}")
        while time.monotonic() < deadline:  # /readyz: informers listed Namespaces and params
            if not self.running:
                raise CelgateProcessError(f"celgate serve exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.1)
        self.stop()
        raise CelgateProcessError(f"celgate serve never became ready:\n{self.log_tail()}")

    def _pump(self) -> None:
        process = self._process
        assert process is not None and process.stderr is not None
        with open(self.log_path, "a") as log:
            for line in process.stderr:
                log.write(line)
                log.flush()
                match = _SERVING.search(line)
                if match and not self._announced.is_set():
                    self.port = int(match.group(1))
                    self._announced.set()

    def log_tail(self, lines: int = 40) -> str:
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
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
