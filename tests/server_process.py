"""Start ``celgate serve`` as a real process on an ephemeral port and talk to it over TLS."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from webhook.certs import generate_bundle, write_bundle

_SERVING = re.compile(r"on https://(?:\[[^\]]+\]|[^:/]+):(\d+)/validate")


class ServerProcess:
    def __init__(self, args: list[str], *, cert_dir: Path | None = None, env: dict[str, str] | None = None,
                 client_cert: tuple[Path, Path] | None = None) -> None:
        self.args = args
        self.cert_dir = cert_dir
        # (certificate, key) every client() presents: needed when the server has --client-ca-file.
        self.client_cert = client_cert
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.stderr_lines: list[str] = []
        self._ready = threading.Event()

    @classmethod
    def with_certs(cls, tmp_path: Path, args: list[str], *, ips: tuple[str, ...] = ("127.0.0.1",)) -> "ServerProcess":
        certs = write_bundle(generate_bundle(ip_addresses=list(ips), dns_names=["localhost"]), tmp_path / "tls")
        return cls([*args, "--tls-cert", str(certs.cert), "--tls-key", str(certs.key)], cert_dir=tmp_path / "tls")

    @property
    def ca(self) -> str:
        assert self.cert_dir is not None
        return str(self.cert_dir / "ca.crt")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        command = [sys.executable, "-m", "webhook.cli", "serve", "--port", "0", *self.args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=self.env,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._ready.wait(timeout) or not self._curl_printed(timeout):
            self.stop()
            raise RuntimeError("celgate serve did not start:\n" + "\n".join(self.stderr_lines[-30:]))
        self._wait_healthy(timeout)
        return self

    def _curl_printed(self, timeout: float) -> bool:
        """The embedded default prints its curl example right after the serving line."""
        if self.cert_dir is not None:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(line.strip().startswith("curl ") for line in self.stderr_lines):
                ca = next(l for l in self.stderr_lines if l.strip().startswith("curl ")).split("--cacert ", 1)[1].split()[0]
                self.cert_dir = Path(ca).parent
                return True
            time.sleep(0.02)
        return False

    def _pump(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line.rstrip("\n"))
            match = _SERVING.search(line)
            if match and not self._ready.is_set():
                self.port = int(match.group(1))
                self._ready.set()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # closed at once: an idle keep-alive connection that never answers the server's
                # close_notify holds a graceful shutdown for its whole timeout
                with self.client() as client:
                    if client.get("/healthz").status_code == 200:
                        return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("celgate serve never became healthy:\n" + "\n".join(self.stderr_lines[-30:]))

    def client(self, **kwargs: Any) -> httpx.Client:
        verify = kwargs.pop("verify", None)
        if verify is None:
            verify = ssl.create_default_context(cafile=self.ca)
            if self.client_cert is not None:
                verify.load_cert_chain(*self.client_cert)
        return httpx.Client(base_url=self.url, verify=verify, timeout=10, **kwargs)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
