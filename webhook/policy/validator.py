"""Evaluating one policy for one binding and one param: match, bind, evaluate, decide.

Mirrors k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go (v1.35) and
webhook/matchconditions/matcher.go: the matchConditions filter (its own budget), then the
validations filter and the messageExpressions filter (with what the validations left of the
budget), then the auditAnnotations filter (a fresh budget). Every result is a
:class:`Decision` (admit or deny, and whether it came from a failed validation or an error), so
the dispatcher applies the binding's validationActions without re-evaluating anything. How a
filter is evaluated (one planned cel-cpp call, exact.py, or one expression at a time) is
filters.py's business; what it decides is the same whichever way ran (tests/policy/test_fast_paths.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from cel_expr_python import cel

from webhook.cel import OUT_OF_BUDGET, RUNTIME_CEL_COST_BUDGET, RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS, CostBudget
from webhook.cel.runtime_cost import Unsupported
from webhook.cel.values import from_cel, type_name
from webhook.policy import filters
from webhook.policy.compiler import CompiledPolicy, PolicyExpression, environment
from webhook.policy.filters import BudgetExhausted, RequestContext, Result
from webhook.policy.plan import FilterPlan

# k8s.io/apiserver/pkg/apis/cel/config.go
MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES = 5 * 1024


@dataclass(frozen=True)
class Decision:
    """validating/policy_decision.go PolicyDecision."""

    action: Literal["admit", "deny"]
    evaluation: Literal["admit", "deny", "error"]
    message: str = ""
    reason: str = ""
    elapsed: float = 0.0
    index: int | None = None  # the validation index, None for a whole-policy error


@dataclass(frozen=True)
class AuditAnnotationResult:
    key: str
    action: Literal["publish", "error", "exclude"]
    value: str = ""
    error: str = ""
    elapsed: float = 0.0


@dataclass(frozen=True)
class ValidateResult:
    decisions: tuple[Decision, ...] = ()
    audit_annotations: tuple[AuditAnnotationResult, ...] = ()
    # A matchCondition was false (or errored under Ignore): nothing was validated.
    skipped_by: str | None = None


@dataclass(frozen=True)
class Inputs:
    """The variables for one evaluation, as plain JSON-shaped data."""

    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    request: dict[str, Any]
    match_request: dict[str, Any]  # matchConditions see the request's own resource
    params: dict[str, Any] | None
    namespace_object: dict[str, Any] | None
    namespace_full: dict[str, Any] | None  # auditAnnotations get the unstripped namespace
    authorizer: Mapping[str, Any] = field(default_factory=dict)  # authz activation entries
    context: RequestContext = field(default_factory=RequestContext)


class FastPaths:
    """Whether a filter's plan (one cel-cpp call) runs first: the default. Off, every filter is
    evaluated by exact.py (where it can run): the reference the plans are tested against
    (tests/policy/test_fast_paths.py), also settable as CELGATE_FAST_PATHS=off."""

    enabled: bool = os.environ.get("CELGATE_FAST_PATHS", "on").lower() not in ("0", "off", "false", "no")
    exact_runs: int = 0  # filters decided by exact.py, for tests and benchmarks
    exact_unsupported: int = 0


class _Filter:
    """One filter's evaluation, trying the three ways of filters.py in turn."""

    def __init__(self, compiled: CompiledPolicy, inputs: Inputs, data: dict[str, Any]) -> None:
        self.compiled = compiled
        self.env = environment(compiled.policy.param_kind is not None)
        self.context = inputs.context
        self.data = data

    def planned(self, plan: FilterPlan, budget: int, filters_: int = 1) -> list[Any] | None:
        if not FastPaths.enabled:
            return None
        return filters.planned(plan, self.env, self.context, self.data, budget, filters_)

    def exact(self, expressions: Sequence[PolicyExpression | None], budget: int) -> tuple[list[Result | None], int]:
        results = filters.exact(self.compiled, self.context, self.data, expressions, budget)
        FastPaths.exact_runs += 1
        return results

    def one_by_one(self, expressions: Sequence[PolicyExpression | None], budget: CostBudget) -> list[Result | None]:
        FastPaths.exact_unsupported += 1
        return filters.one_by_one(self.compiled, self.env, self.context, self.data, expressions, budget)


def _data(inputs: Inputs, *, request: dict[str, Any], namespace: dict[str, Any] | None,
          authorizer: bool, names: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"object": inputs.object, "oldObject": inputs.old_object, "params": inputs.params,
                            "request": request, "namespaceObject": namespace}
    if authorizer:
        data.update(inputs.authorizer)
    return {k: v for k, v in data.items() if k in names}


def _timed(values: list[Any], started: float) -> list[Result]:
    each = (time.perf_counter() - started) / max(1, len(values))
    return [(value, None, each) for value in values]


def validate(compiled: CompiledPolicy, inputs: Inputs) -> ValidateResult:
    policy = compiled.policy
    names = environment(policy.param_kind is not None).variables
    if compiled.match_conditions:
        skipped, error = _match(compiled, _Filter(compiled, inputs, _data(
            inputs, request=inputs.match_request, namespace=None, authorizer=True, names=names)))
        if error is not None:
            if policy.failure_policy == "Ignore":
                return ValidateResult(skipped_by="matchConditions error ignored (failurePolicy: Ignore)")
            return _error_decision(policy.failure_policy, error)
        if skipped is not None:
            return ValidateResult(skipped_by=skipped)

    stage = _Filter(compiled, inputs, _data(inputs, request=inputs.request, namespace=inputs.namespace_object,
                                            authorizer=True, names=names))
    evaluated = _validations(compiled, stage)
    if evaluated is None:
        return _error_decision(policy.failure_policy, OUT_OF_BUDGET)
    results, messages, message_error = evaluated
    decisions = _decisions(policy, results, messages, message_error)

    annotations = []
    if compiled.audit_annotations:
        audits = _Filter(compiled, inputs, _data(inputs, request=inputs.request, namespace=inputs.namespace_full,
                                                 authorizer=False, names=names))
        try:
            audited = _audit(compiled, audits)
        except BudgetExhausted:
            return _error_decision(policy.failure_policy, OUT_OF_BUDGET)
        for annotation, outcome in zip(policy.audit_annotations, audited):
            value, error, elapsed = outcome
            annotations.append(_audit_annotation(annotation.key, annotation.value_expression, value, error, elapsed, policy.failure_policy))
    return ValidateResult(tuple(decisions), tuple(annotations))


def _match(compiled: CompiledPolicy, stage: _Filter) -> tuple[str | None, str | None]:
    """(name of the false condition, aggregated error). All are evaluated first, as upstream;
    a false condition wins over errors."""
    started = time.perf_counter()
    values = stage.planned(compiled.plans.match, RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS) if compiled.plans else None
    try:
        if values is not None:
            results: list[Result] = _timed(values, started)
        else:
            try:
                found, _ = stage.exact(compiled.match_conditions, RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS)
            except Unsupported:
                found = stage.one_by_one(compiled.match_conditions, CostBudget(RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS))
            results = [r for r in found if r is not None]
    except BudgetExhausted:
        return None, OUT_OF_BUDGET
    return _match_outcome(compiled, results)


def _validations(compiled: CompiledPolicy, stage: _Filter) -> tuple[list[Result], list[Any], str | None] | None:
    """(validation results, message values by validation, message error); None when the
    validations filter ran out of budget."""
    started = time.perf_counter()
    count = len(compiled.validations)
    values = stage.planned(compiled.plans.validate, RUNTIME_CEL_COST_BUDGET, 2) if compiled.plans else None
    if values is not None:
        planned = iter(values[count:])
        return _timed(values[:count], started), [None if m is None else next(planned) for m in compiled.message_expressions], None
    try:
        try:
            found, remaining = stage.exact(compiled.validations, RUNTIME_CEL_COST_BUDGET)
        except BudgetExhausted:
            return None
        results = [r for r in found if r is not None]
        try:
            evaluated, _ = stage.exact(compiled.message_expressions, remaining)
            return results, [None if r is None else r[0] for r in evaluated], None
        except BudgetExhausted:
            return results, [], OUT_OF_BUDGET
    except Unsupported:
        budget = CostBudget(RUNTIME_CEL_COST_BUDGET)
        try:
            results = [r for r in stage.one_by_one(compiled.validations, budget) if r is not None]
        except BudgetExhausted:
            return None
        try:
            evaluated = stage.one_by_one(compiled.message_expressions, budget)
            return results, [None if r is None else r[0] for r in evaluated], None
        except BudgetExhausted:
            return results, [], OUT_OF_BUDGET


def _audit(compiled: CompiledPolicy, stage: _Filter) -> list[Result]:
    started = time.perf_counter()
    values = stage.planned(compiled.plans.audit, RUNTIME_CEL_COST_BUDGET) if compiled.plans else None
    if values is not None:
        return _timed(values, started)
    try:
        found, _ = stage.exact(compiled.audit_annotations, RUNTIME_CEL_COST_BUDGET)
    except Unsupported:
        found = stage.one_by_one(compiled.audit_annotations, CostBudget(RUNTIME_CEL_COST_BUDGET))
    return [r for r in found if r is not None]


def _match_outcome(compiled: CompiledPolicy, results: list[Result]) -> tuple[str | None, str | None]:
    """(name of the first false condition, aggregated error): a false condition wins."""
    errors: list[str] = []
    for condition, (value, error, _) in zip(compiled.policy.match_conditions, results):
        if error is None and _plain(value) is False:
            return f"matchCondition '{condition.name}' is false", None
        if error is not None:
            errors.append(error)
    return (None, aggregate(errors)) if errors else (None, None)


def _decisions(policy: Any, results: list[Result], messages: list[Any], message_error: str | None) -> list[Decision]:
    decisions = []
    for index, (validation, (value, error, elapsed)) in enumerate(zip(policy.validations, results)):
        if error is not None:
            decisions.append(Decision(_error_action(policy.failure_policy), "error", error, "", elapsed, index))
        elif message_error is not None:
            decisions.append(Decision(_error_action(policy.failure_policy), "error", f"failed messageExpression: {message_error}", "", elapsed, index))
        elif not _is_true(value):
            message = _failure_message(validation.expression, validation.message, messages[index] if index < len(messages) else None)
            decisions.append(Decision("deny", "deny", message, validation.reason or "Invalid", elapsed, index))
        else:
            decisions.append(Decision("admit", "admit", "", "", elapsed, index))
    return decisions


def _is_true(value: Any) -> bool:
    if value is True:
        return True
    return isinstance(value, cel.Value) and value.type() == cel.Type.BOOL and value.value() is True


def _plain(value: Any) -> Any:
    if not isinstance(value, cel.Value):
        return value
    try:
        return from_cel(value)
    except Exception:  # noqa: BLE001 - optionals and other values Python cannot hold
        return value


def _error_action(failure_policy: str) -> Literal["admit", "deny"]:
    return "admit" if failure_policy == "Ignore" else "deny"


def _error_decision(failure_policy: str, message: str) -> ValidateResult:
    return ValidateResult(decisions=(Decision(_error_action(failure_policy), "error", message),))


def aggregate(messages: list[str]) -> str:
    """k8s.io/apimachinery/pkg/util/errors Aggregate.Error(): one message as is, several
    deduplicated inside brackets."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _failure_message(expression: str, message: str, message_value: Any) -> str:
    text = ""
    plain = _plain(message_value) if message_value is not None else None
    if isinstance(plain, str):
        text = plain.strip()
        if len(text.encode()) > MAX_EVALUATED_MESSAGE_EXPRESSION_SIZE_BYTES or "\n" in text:
            text = ""
    if not text and message:
        text = message.strip()
    if not text:
        text = f"failed expression: {expression.strip()}"
    return text


def _audit_annotation(
    key: str, value_expression: str, value: Any, error: str | None, elapsed: float, failure_policy: str
) -> AuditAnnotationResult:
    if error is not None:
        action: Literal["error", "exclude"] = "exclude" if failure_policy == "Ignore" else "error"
        return AuditAnnotationResult(key, action, error=error, elapsed=elapsed)
    plain = _plain(value)
    if isinstance(plain, str):
        stripped = plain.strip()
        if not stripped:
            return AuditAnnotationResult(key, "exclude", elapsed=elapsed)
        return AuditAnnotationResult(key, "publish", value=stripped, elapsed=elapsed)
    if plain is None:
        return AuditAnnotationResult(key, "exclude", elapsed=elapsed)
    shown = type_name(value.type()) if isinstance(value, cel.Value) else type(plain).__name__
    return AuditAnnotationResult(
        key, "error", elapsed=elapsed,
        error=f"valueExpression '{value_expression}' resulted in unsupported return type: {shown}. "
        "Return type must be either string or null.",
    )
