"""The results of policy evaluation: one per policy/binding/param, and one per request.

Like the apiserver's PolicyDecision, a result records how it was reached (action, message,
reason, elapsed time) so the CLI, the webhook, metrics and audit read it instead of recomputing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# admit: every validation passed; deny/warn/audit: a failed validation under that action;
# error: a compile/runtime/cost error or missing param that failurePolicy turned into a result;
# skip: the binding did not match (or a matchCondition was false).
EvaluationResult = Literal["admit", "deny", "warn", "audit", "error", "skip"]

# The apiserver's metric labels for one check (validating/metrics/metrics.go, v1.35).
EnforcementAction = Literal["allow", "deny", "warn", "audit"]
ErrorType = Literal["no_error", "compile_error", "invalid_error", "out_of_budget"]


@dataclass(frozen=True)
class PolicyCheck:
    """One observation kube-apiserver's VAP plugin would record in its check metrics.

    dispatcher.go observes each failed validation once per validationAction of the binding
    (deny, warn, audit), an error that failurePolicy Ignore swallowed as allow, and an
    auditAnnotation error as deny; a passing validation is not observed at all.
    """

    enforcement_action: EnforcementAction
    error_type: ErrorType
    elapsed_seconds: float


@dataclass(frozen=True)
class PolicyEvaluation:
    """The outcome of one policy, through one binding, for one param (or none)."""

    policy: str
    binding: str
    param: str | None
    result: EvaluationResult
    message: str = ""
    reason: str = ""
    elapsed_seconds: float = 0.0
    # The validation index (or None) that produced the message, for reports.
    validation_index: int | None = None
    # failurePolicy was Ignore and an error was swallowed.
    ignored_error: bool = False
    # What the apiserver's check_total/check_duration_seconds would observe for this evaluation.
    checks: tuple[PolicyCheck, ...] = ()


@dataclass(frozen=True)
class AdmissionStatus:
    code: int
    reason: str
    message: str


@dataclass(frozen=True)
class AdmissionDecision:
    """The aggregated decision for one request, worded exactly as kube-apiserver words it."""

    allowed: bool
    status: AdmissionStatus | None
    warnings: tuple[str, ...] = ()
    audit_annotations: dict[str, str] = field(default_factory=dict)
    evaluations: tuple[PolicyEvaluation, ...] = ()
    elapsed_seconds: float = 0.0
