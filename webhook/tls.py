"""The webhook's TLS context, reloaded in place when the certificate files change.

Kubernetes rotates a mounted Secret by swapping a symlink, so files are compared by content,
not by mtime. ``SSLContext.load_cert_chain`` on the live context affects every handshake after
it, so connections opened after a rotation get the new certificate without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

log = logging.getLogger("celgate.tls")


class TLSConfigError(Exception):
    """The certificate, key or client CA cannot be used."""


def _digest(paths: list[Path]) -> str:
    hasher = hashlib.sha256()
    for path in paths:
        try:
            hasher.update(path.read_bytes())
        except OSError as exc:
            raise TLSConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        hasher.update(b"\0")
    return hasher.hexdigest()


def certificate_not_after(cert_path: Path) -> float:
    """Expiry of the first certificate in a PEM file, as a Unix timestamp."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc.timestamp()


@dataclass
class ServingTLS:
    cert_path: Path
    key_path: Path
    client_ca_path: Path | None = None
    context: ssl.SSLContext = field(init=False)
    reloads: int = field(init=False, default=0)
    _digest: str = field(init=False, default="")
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_COMPRESSION
        context.set_alpn_protocols(["http/1.1"])
        self.context = context
        self._load()
        if self.client_ca_path is not None:
            context.verify_mode = ssl.CERT_REQUIRED

    def _files(self) -> list[Path]:
        files = [self.cert_path, self.key_path]
        if self.client_ca_path is not None:
            files.append(self.client_ca_path)
        return files

    def _load(self) -> None:
        digest = _digest(self._files())
        try:
            self.context.load_cert_chain(str(self.cert_path), str(self.key_path))
        except ssl.SSLError as exc:
            raise TLSConfigError(
                f"certificate {self.cert_path} and key {self.key_path} cannot be used together: {exc.reason or exc}"
            ) from None
        if self.client_ca_path is not None:
            try:
                self.context.load_verify_locations(cafile=str(self.client_ca_path))
            except ssl.SSLError as exc:
                raise TLSConfigError(f"client CA {self.client_ca_path} is not a PEM CA bundle: {exc.reason or exc}") from None
        self._digest = digest

    def reload_if_changed(self) -> bool:
        """Load the files again if their content changed; keep serving the old ones on error."""
        with self._lock:
            try:
                digest = _digest(self._files())
            except TLSConfigError as exc:
                log.warning("tls: keeping the current certificate: %s", exc)
                return False
            if digest == self._digest:
                return False
            try:
                self._load()
            except TLSConfigError as exc:
                log.error("tls: new certificate files rejected, keeping the current ones: %s", exc)
                return False
            self.reloads += 1
            log.info("tls: certificate reloaded from %s", self.cert_path)
            return True

    def not_after(self) -> float:
        return certificate_not_after(self.cert_path)
