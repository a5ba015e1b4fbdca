"""Closed-loop load from client threads while a fault is injected: every answer is recorded with
its status, its verdict against the one expected, or the transport error that replaced it."""

from __future__ import annotations

import itertools
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import httpx

from fault_reviews import Case


@dataclass(frozen=True)
class Outcome:
    case: str
    started: float  # time.monotonic()
    seconds: float
    status: int | None = None
    correct: bool | None = None  # the verdict was the expected one (None: no 200 answer)
    error: str | None = None  # the transport error's type, when there was no answer


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None]

    @property
    def failures(self) -> list[Outcome]:
        """Everything but a 200 with the right verdict."""
        return [o for o in self.outcomes if o.status != 200 or not o.correct]

    @property
    def wrong_verdicts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 200 and o.correct is False]

    def after(self, moment: float) -> "LoadReport":
        return LoadReport([o for o in self.outcomes if o.started >= moment])

    def summary(self) -> str:
        kinds = Counter(o.error or (f"http {o.status}" if o.status != 200 else ("ok" if o.correct else "WRONG"))
                        for o in self.outcomes)
        return f"{len(self.outcomes)} requests: " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items()))


class SteadyLoad:
    """``threads`` clients posting ``cases`` round-robin until stopped.

    ``verify`` is called for every new client: a rotation test can change what is trusted.
    With ``new_connection_each`` every request makes its own TLS handshake (rotation must
    reach handshakes); otherwise each thread keeps one keep-alive connection, as the API server does.
    """

    def __init__(self, url: str, verify: Callable[[], ssl.SSLContext], cases: list[Case], *, threads: int = 4,
                 new_connection_each: bool = False, timeout: float = 10.0, pause: float = 0.0) -> None:
        self.url, self.verify, self.cases = url, verify, cases
        self.threads, self.new_connection_each, self.timeout, self.pause = threads, new_connection_each, timeout, pause
        self.report = LoadReport()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.verify(), timeout=self.timeout)

    def _run(self, offset: int) -> None:
        client = None if self.new_connection_each else self._client()
        for case in itertools.islice(itertools.cycle(self.cases), offset, None):
            if self._stop.is_set():
                break
            started = time.monotonic()
            outcome: Outcome
            try:
                if client is None:
                    with self._client() as once:
                        response = once.post("/validate", content=case.body, headers={"Content-Type": "application/json"})
                else:
                    response = client.post("/validate", content=case.body, headers={"Content-Type": "application/json"})
                correct = response.json()["response"]["allowed"] is case.allowed if response.status_code == 200 else None
                outcome = Outcome(case.name, started, time.monotonic() - started, response.status_code, correct)
            except httpx.HTTPError as exc:
                outcome = Outcome(case.name, started, time.monotonic() - started, error=type(exc).__name__)
                if client is not None:  # a broken keep-alive connection: start a fresh one, as a pool would
                    client.close()
                    client = self._client()
            with self._lock:
                self.report.outcomes.append(outcome)
            if self.pause:
                time.sleep(self.pause)
        if client is not None:
            client.close()

    def __enter__(self) -> "SteadyLoad":
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)

    def count(self) -> int:
        with self._lock:
            return len(self.report.outcomes)

    def wait_for(self, requests: int, timeout: float = 30.0) -> None:
        """Until ``requests`` more have been answered (so a fault lands under load)."""
        target = self.count() + requests
        deadline = time.monotonic() + timeout
        while self.count() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"load stalled: {self.report.summary()}")
            time.sleep(0.02)
