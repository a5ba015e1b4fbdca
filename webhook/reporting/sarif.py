"""``--output sarif``: SARIF 2.1.0 for code-scanning UIs.

One rule per policy; one result per denying, warning, auditing or failing evaluation, located at
the file and line of the document it is about.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import PurePath
from typing import Any, Sequence
from urllib.parse import quote

from webhook.admission.dry_run import ObjectResult
from webhook.policy.decision import PolicyEvaluation

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
STDIN_SOURCES = frozenset({"-", "<stdin>", "stdin"})


def _level(evaluation: PolicyEvaluation) -> str | None:
    """The SARIF level for an evaluation, or None when it is not a finding (admit, skip)."""
    if evaluation.ignored_error:  # recorded as admit: failurePolicy Ignore swallowed the error
        return "warning"
    if evaluation.result in ("deny", "error"):
        return "error"
    if evaluation.result == "warn":
        return "warning"
    if evaluation.result == "audit":
        return "note"
    return None


def artifact_uri(source: str) -> str:
    """A relative URI for a relative path (SARIF resolves it against the checkout), file:// otherwise."""
    if source in STDIN_SOURCES:
        return "stdin"
    path = PurePath(source)
    if path.is_absolute():
        return "file://" + quote(path.as_posix())
    return quote(path.as_posix())


def _version() -> str:
    try:
        return metadata.version("celgate")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _result(result: ObjectResult, evaluation: PolicyEvaluation, level: str, rule_index: int) -> dict[str, Any]:
    param = f" (param {evaluation.param})" if evaluation.param else ""
    verb = {"deny": "denied by", "warn": "warned by", "audit": "audited by", "error": "failed to evaluate in"}
    outcome = "failed to evaluate (admitted: failurePolicy Ignore) in" if evaluation.ignored_error else verb[evaluation.result]
    return {
        "ruleId": evaluation.policy,
        "ruleIndex": rule_index,
        "level": level,
        "message": {
            "text": f"{result.display_name} {outcome} ValidatingAdmissionPolicy "
            f"'{evaluation.policy}' with binding '{evaluation.binding}'{param}: {evaluation.message}"
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(result.document.source)},
                    "region": {"startLine": max(result.document.line, 1)},
                },
                "logicalLocations": [{"name": result.display_name, "kind": "object"}],
            }
        ],
        "properties": {
            "binding": evaluation.binding,
            "param": evaluation.param,
            "result": evaluation.result,
            "apiVersion": result.api_version,
            "kind": result.kind,
            "namespace": result.namespace,
            "name": result.name,
            "document": result.document.index,
            "allowed": result.decision.allowed,
        },
    }


def report_to_sarif(results: Sequence[ObjectResult]) -> dict[str, Any]:
    rule_index: dict[str, int] = {}
    sarif_results: list[dict[str, Any]] = []
    for result in results:
        for evaluation in result.decision.evaluations:
            level = _level(evaluation)
            if level is None:
                continue
            index = rule_index.setdefault(evaluation.policy, len(rule_index))
            sarif_results.append(_result(result, evaluation, level, index))
    rules = [
        {"id": policy, "name": policy, "shortDescription": {"text": f"ValidatingAdmissionPolicy {policy}"}}
        for policy in rule_index
    ]
    driver = {"name": "celgate", "version": _version(), "rules": rules}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [{"tool": {"driver": driver}, "results": sarif_results}]}


def render(results: Sequence[ObjectResult]) -> str:
    return json.dumps(report_to_sarif(results), indent=2) + "\n"
