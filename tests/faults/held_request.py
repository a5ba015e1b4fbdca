"""A request that stays in flight until the test lets it finish: its body's second half is
sent only on ``release()``, so the server's handler is waiting for it meanwhile."""

from __future__ import annotations

import ssl
import threading

import httpx

from tests.server_process import ServerProcess


class HeldRequest:
    """A POST whose body's second half is sent only on ``release()``: in flight until then."""

    def __init__(self, server: ServerProcess, body: bytes) -> None:
        self._release = threading.Event()
        self.response: httpx.Response | None = None
        self.error: str | None = None

        def chunks():
            yield body[: len(body) // 2]
            self._release.wait(30)
            yield body[len(body) // 2:]

        def run() -> None:
            try:
                with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=server.ca),
                                  timeout=30) as client:
                    self.response = client.post("/validate", content=chunks(), headers={"Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                self.error = type(exc).__name__

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def release(self) -> None:
        self._release.set()

    def join(self) -> None:
        self.thread.join(30)
