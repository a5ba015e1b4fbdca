"""``--output json``: the stable, documented machine format (webhook/schemas/test-result.schema.json)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Sequence

from webhook.admission.dry_run import ObjectResult, Summary
from webhook.policy.decision import PolicyEvaluation


def _evaluation(evaluation: PolicyEvaluation) -> dict[str, Any]:
    return {
        "policy": evaluation.policy,
        "binding": evaluation.binding,
        "param": evaluation.param,
        "result": evaluation.result,
        "message": evaluation.message,
        "elapsedSeconds": evaluation.elapsed_seconds,
    }


def result_to_json(result: ObjectResult) -> dict[str, Any]:
    decision = result.decision
    # The AdmissionReview status the webhook answers with, byte for byte; the kubectl-style
    # 'pods "x" is forbidden: ' wrapping is for people (text, JUnit), not for machines.
    status = decision.status
    return {
        "source": result.source,
        "apiVersion": result.api_version,
        "kind": result.kind,
        "namespace": result.namespace,
        "name": result.name,
        "allowed": decision.allowed,
        "status": None if status is None else {"code": status.code, "reason": status.reason, "message": status.message},
        "warnings": list(decision.warnings),
        "auditAnnotations": dict(decision.audit_annotations),
        "evaluations": [_evaluation(evaluation) for evaluation in decision.evaluations],
    }


def report_to_json(results: Sequence[ObjectResult]) -> dict[str, Any]:
    return {
        "results": [result_to_json(result) for result in results],
        "summary": dataclasses.asdict(Summary.of(results)),
    }


def render(results: Sequence[ObjectResult]) -> str:
    return json.dumps(report_to_json(results), indent=2) + "\n"
