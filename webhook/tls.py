"""The webhook's TLS: what it offers, whom it trusts, and reloading both when the files change.

Protocols and ciphers follow what kube-apiserver, a Go client, negotiates by default: TLS 1.2
or 1.3, and for TLS 1.2 only the ECDHE key exchanges with an AEAD cipher — the first group of
Go's preference order (crypto/tls/cipher_suites.go ``cipherSuitesPreferenceOrder``). Go's
defaults still allow ECDHE with AES-CBC-SHA1 after them; we leave those out, which costs
nothing as a Go client offers the AEAD suites first. TLS 1.3's suites are all AEAD. No
compression (CRIME), no renegotiation.

With a client CA, every connection must present a certificate signed by it: that is how the
API server authenticates to its webhooks (an AdmissionConfiguration's kubeConfigFile, see
docs/deploy.md). Session tickets are then off, so a resumed session cannot outlive a change of
the trusted CA.

Kubernetes rotates a mounted Secret by swapping a symlink, so files are compared by content,
not by mtime. A change builds a whole new context; the listening context's SNI callback (which
OpenSSL runs on every ClientHello, with or without a server name) hands each new handshake the
latest one. Connections opened after a rotation get the new certificate and the new client CA
— a CA removed from the bundle stops being trusted — without a restart.
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

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
# OpenSSL names of TLS_ECDHE_{ECDSA,RSA}_WITH_{AES_128_GCM_SHA256,AES_256_GCM_SHA384,
# CHACHA20_POLY1305_SHA256}, in Go's order.
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
)


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


def server_context(cert_path: Path, key_path: Path, client_ca_path: Path | None = None) -> ssl.SSLContext:
    """A serving context for these files, with celgate's protocol and cipher policy."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(":".join(TLS12_CIPHERS))
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(str(cert_path), str(key_path))
    except ssl.SSLError as exc:  # before OSError, its base class
        raise TLSConfigError(
            f"certificate {cert_path} and key {key_path} cannot be used together: {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise TLSConfigError(f"cannot read {cert_path} or {key_path}: {exc.strerror or exc}") from None
    if client_ca_path is not None:
        try:
            context.load_verify_locations(cafile=str(client_ca_path))
        except ssl.SSLError as exc:
            raise TLSConfigError(f"client CA {client_ca_path} is not a PEM CA bundle: {exc.reason or exc}") from None
        except OSError as exc:
            raise TLSConfigError(f"cannot read client CA {client_ca_path}: {exc.strerror or exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED
        context.options |= ssl.OP_NO_TICKET
        context.num_tickets = 0
    return context


@dataclass
class ServingTLS:
    cert_path: Path
    key_path: Path
    client_ca_path: Path | None = None
    # The context the listening socket holds for its lifetime; ``current`` is the newest one.
    context: ssl.SSLContext = field(init=False)
    current: ssl.SSLContext = field(init=False)
    reloads: int = field(init=False, default=0)
    _digest: str = field(init=False, default="")
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._digest = _digest(self._files())
        self.current = server_context(self.cert_path, self.key_path, self.client_ca_path)
        self.context = server_context(self.cert_path, self.key_path, self.client_ca_path)
        self.context.sni_callback = self._hand_over

    def _hand_over(self, connection: ssl.SSLObject | ssl.SSLSocket, _server_name: str | None,
                   _context: ssl.SSLContext) -> None:
        current = self.current
        if connection.context is not current:
            connection.context = current

    def _files(self) -> list[Path]:
        files = [self.cert_path, self.key_path]
        if self.client_ca_path is not None:
            files.append(self.client_ca_path)
        return files

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
                self.current = server_context(self.cert_path, self.key_path, self.client_ca_path)
            except TLSConfigError as exc:
                log.error("tls: new certificate files rejected, keeping the current ones: %s", exc)
                return False
            self._digest = digest
            self.reloads += 1
            log.info("tls: certificate%s reloaded from %s", " and client CA" if self.client_ca_path else "",
                     self.cert_path)
            return True

    def not_after(self) -> float:
        return certificate_not_after(self.cert_path)
