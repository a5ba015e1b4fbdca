"""One structured JSON log line per admission decision."""

from __future__ import annotations

import json
import logging
import sys
import time

from webhook.admission.attributes import AdmissionAttributes
from webhook.policy.decision import AdmissionDecision

log = logging.getLogger("celgate.decisions")


def decision_record(
    attributes: AdmissionAttributes, decision: AdmissionDecision, elapsed: float, generation: int
) -> dict[str, object]:
    by_result: dict[str, list[str]] = {}
    for evaluation in decision.evaluations:
        if evaluation.result in ("deny", "warn", "audit", "error"):
            by_result.setdefault(evaluation.result, []).append(f"{evaluation.policy}/{evaluation.binding}")
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
        "denied_by": by_result.get("deny", []),
        "warned_by": by_result.get("warn", []),
        "audited_by": by_result.get("audit", []),
        "errors": by_result.get("error", []),
        "policy_generation": generation,
        "duration_ms": round(elapsed * 1000, 3),
    }


def log_decision(
    attributes: AdmissionAttributes, decision: AdmissionDecision, elapsed: float, generation: int
) -> None:
    if log.isEnabledFor(logging.INFO):
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


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
