"""The audit trail celgate keeps itself: one structured JSON line per admission decision.

Decision lines go to stdout (other logs to stderr) and, with ``--decision-log-file``, to a
size-rotated file that every worker process appends to under one lock. Allowed decisions can
be sampled (``--log-allowed-sample-rate``); denials, warnings, audit results and errors are
always written. No object content is ever logged, and for Secrets and ConfigMaps not even the
policy messages, since a messageExpression can echo a value.
"""

from __future__ import annotations

import fcntl
import json
import logging
import logging.handlers
import os
import random
import sys
import time
from pathlib import Path

from webhook.policy.attributes import AdmissionAttributes
from webhook.policy.decision import AdmissionDecision

log = logging.getLogger("celgate.decisions")

# Resources whose content is confidential: their messages are withheld from the log.
REDACTED_RESOURCES = frozenset({"secrets", "configmaps"})
REDACTED = "(withheld: messages about secrets and configmaps are not logged)"


class _Sampling:
    """The share of allowed, unremarkable decisions that are logged (1.0: all)."""

    allowed_rate = 1.0


def set_allowed_sample_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"sample rate must be between 0 and 1, not {rate}")
    _Sampling.allowed_rate = rate


def decision_record(
    attributes: AdmissionAttributes, decision: AdmissionDecision, elapsed: float, generation: int
) -> dict[str, object]:
    by_result: dict[str, list[str]] = {}
    for evaluation in decision.evaluations:
        if evaluation.result in ("deny", "warn", "audit", "error"):
            by_result.setdefault(evaluation.result, []).append(f"{evaluation.policy}/{evaluation.binding}")
    redacted = attributes.resource.resource in REDACTED_RESOURCES
    message = decision.status.message if decision.status else ""
    return {
        "ts": round(time.time(), 3),
        "msg": "admission decision",
        "uid": attributes.uid,
        "operation": attributes.operation,
        "kind": attributes.kind.kind,
        "resource": attributes.resource.resource,
        "namespace": attributes.namespace,
        "name": attributes.name,
        "user": attributes.user_info.username,
        "allowed": decision.allowed,
        "code": decision.status.code if decision.status else 200,
        "message": REDACTED if redacted and message else message,
        "denied_by": by_result.get("deny", []),
        "warned_by": by_result.get("warn", []),
        "audited_by": by_result.get("audit", []),
        "errors": by_result.get("error", []),
        "policy_generation": generation,
        "duration_ms": round(elapsed * 1000, 3),
    }


def _is_remarkable(decision: AdmissionDecision) -> bool:
    return not decision.allowed or bool(decision.warnings) or any(
        e.result in ("warn", "audit", "error") or e.ignored_error for e in decision.evaluations
    )


def log_decision(
    attributes: AdmissionAttributes, decision: AdmissionDecision, elapsed: float, generation: int
) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    rate = _Sampling.allowed_rate
    if rate < 1.0 and not _is_remarkable(decision) and random.random() >= rate:
        from webhook import metrics

        metrics.DECISION_LOG_SAMPLED_OUT.inc()
        return
    log.info(json.dumps(decision_record(attributes, decision, elapsed, generation), separators=(",", ":")))


class JSONFormatter(logging.Formatter):
    """Log records as JSON lines; decision lines are already JSON and pass through."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == "celgate.decisions":
            return message
        payload = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                   "logger": record.name, "msg": message}
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, separators=(",", ":"))


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated file several worker processes append to: writes and rotation happen under
    an flock, and a process whose file was rotated away by another reopens the new one."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._lock_file = open(f"{path}.lock", "a")

    def emit(self, record: logging.LogRecord) -> None:
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            if self.stream is not None:
                try:
                    rotated = os.stat(self.baseFilename).st_ino != os.fstat(self.stream.fileno()).st_ino
                except FileNotFoundError:
                    rotated = True
                if rotated:
                    self.stream.close()
                    self.stream = self._open()
            super().emit(record)
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (a test's capture, a redirected stream)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


class _DecisionsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "celgate.decisions"


class _NotDecisions(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "celgate.decisions"


def configure_logging(
    level: str = "info", *, decision_file: Path | None = None, max_bytes: int = 100 * 1024 * 1024,
    backups: int = 5, decisions_to_stdout: bool = True,
) -> None:
    formatter = JSONFormatter()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    handlers: list[logging.Handler] = [stderr]
    if decisions_to_stdout:
        stderr.addFilter(_NotDecisions())
        stdout = _StdoutHandler()
        stdout.setFormatter(formatter)
        stdout.addFilter(_DecisionsOnly())
        handlers.append(stdout)
    if decision_file is not None:
        rotating = SharedRotatingFileHandler(decision_file, max_bytes, backups)
        rotating.setFormatter(formatter)
        rotating.addFilter(_DecisionsOnly())
        handlers.append(rotating)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
