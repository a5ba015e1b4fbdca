"""Evaluating one policy for one binding and one param: matchConditions, validations,
messageExpressions, auditAnnotations.

Mirrors k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go (v1.35) and
webhook/matchconditions/matcher.go: every result is a :class:`Decision` (admit or deny, and
whether it came from a failed validation or an error), so the dispatcher applies the binding's
validationActions without re-evaluating anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from cel_expr_python import cel

from webhook.cel import (
    RUNTIME_CEL_COST_BUDGET,
    RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS,
    CelCostError,
    CelEvaluationError,
    CostBudget,
)
from webhook.cel.environment import strip_status
from webhook.cel.values import INT64_MAX, INT64_MIN, from_cel, to_cel, type_name
from webhook.policy.compiler import CompiledPolicy, PolicyExpression, environment

OUT_OF_BUDGET = "validation failed due to running out of cost budget, no further validation rules will be run"
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
    # Converted values by id(), shared by the evaluations of one request so that the object
    # is converted for CEL once, not once per policy.
    # The cache keeps each value alive, so an id() is never reused while it is in there.
    converted: dict[int, tuple[Any, Any]] = field(default_factory=dict)

    def to_cel(self, value: Any) -> Any:
        if _is_opaque(value):
            return value
        if not isinstance(value, (dict, list)):
            return to_cel(value)
        cached = self.converted.get(id(value))
        if cached is None or cached[0] is not value:
            cached = self.converted[id(value)] = (value, to_cel(value))
        return cached[1]


class _Stage:
    """The activation of one filter (validations and messages, or audit annotations) and
    the values of the variables its expressions read, each computed at most once.

    A variable whose value is plain JSON is handed to later expressions in the ``variables``
    map, so they run as written (``direct``) and the cost model sees the real value. A variable
    that failed, or whose value CEL cannot take back (an optional, a Quantity), makes its
    readers run their composed program instead, which re-binds it lazily (composition.py).
    """

    def __init__(self, compiled: CompiledPolicy, data: dict[str, Any], inputs: "Inputs") -> None:
        self.compiled = compiled
        self.env = environment(compiled.policy.param_kind is not None)
        self.plain = {k: v for k, v in data.items() if k in self.env.variables and k != "variables"}
        self.cel_data = {k: inputs.to_cel(v) for k, v in self.plain.items()}
        self.values: dict[str, Any] = {}  # variable name -> plain value
        self.unusable: set[str] = set()  # variables that failed or cannot be handed back
        self._activation: Any = None
        self._bound: frozenset[str] = frozenset()

    def _activation_with(self, names: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
        if self._activation is None or not set(names) <= self._bound:
            variables = {name: to_cel(value) for name, value in self.values.items()}
            self._activation = self.env.activation({**self.cel_data, "variables": variables})
            self._bound = frozenset(self.values)
        return self._activation, {**self.plain, "variables": {n: self.values[n] for n in self._bound}}

    def _prepare(self, names: tuple[str, ...], budget: CostBudget) -> None:
        for name in names:
            if name in self.values or name in self.unusable:
                continue
            variable = self.compiled.variable(name)
            value, error, _ = self._run(variable, budget)
            plain = _UNUSABLE if error is not None else _plain_value(value, variable)
            if plain is _UNUSABLE:
                self.unusable.add(name)
            else:
                self.values[name] = plain

    def _run(self, expression: PolicyExpression, budget: CostBudget) -> tuple[Any, str | None, float]:
        self._prepare(expression.dependencies, budget)
        if any(name in self.unusable for name in expression.dependencies):
            program, names = expression.program, ()
        else:
            program, names = expression.direct, expression.dependencies
        activation, sizes = self._activation_with(names)
        started = time.perf_counter()
        try:
            value = program.evaluate_raw(activation, budget, sizes=sizes)
        except CelCostError as exc:
            if not exc.per_call:
                raise
            return None, _expression_error(expression, exc.message), time.perf_counter() - started
        except CelEvaluationError as exc:
            return None, _expression_error(expression, exc.message), time.perf_counter() - started
        except RuntimeError as exc:
            # cel-cpp limits (e.g. its comprehension iteration budget) surface as exceptions
            return None, _expression_error(expression, strip_status(str(exc))), time.perf_counter() - started
        return value, None, time.perf_counter() - started

    def evaluate(self, expression: PolicyExpression, budget: CostBudget) -> tuple[Any, str | None, float]:
        """(value, error message, elapsed); budget exhaustion raises CelCostError."""
        return self._run(expression, budget)


_UNUSABLE = object()
_JSON_SCALARS = (str, bool, float, type(None))


def _plain_value(value: Any, variable: PolicyExpression) -> Any:
    """The variable's value as JSON-shaped data, or _UNUSABLE when it cannot round-trip."""
    if "UINT" in variable.direct.output_type or "UINT" in variable.program.output_type:
        return _UNUSABLE  # a uint would come back as an int
    try:
        plain = from_cel(value.value())
    except Exception:  # noqa: BLE001 - optionals and other values Python cannot hold
        return _UNUSABLE
    return plain if _is_json(plain) else _UNUSABLE


def _is_json(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _is_opaque(value: Any) -> bool:
    return hasattr(value, "DESCRIPTOR")  # protobuf messages (authorizer values) go in as they are


def _expression_error(expression: PolicyExpression, message: str) -> str:
    # cel/activation.go Evaluate
    return f"expression '{expression.source}' resulted in error: {message}"


def _plain(value: Any) -> Any:
    try:
        return from_cel(value.value())
    except Exception:  # noqa: BLE001 - optionals and other values Python cannot hold
        return value


def _error_action(failure_policy: str) -> Literal["admit", "deny"]:
    return "admit" if failure_policy == "Ignore" else "deny"


def _error_decision(failure_policy: str, message: str) -> ValidateResult:
    return ValidateResult(decisions=(Decision(_error_action(failure_policy), "error", message),))


def validate(compiled: CompiledPolicy, inputs: Inputs) -> ValidateResult:
    policy = compiled.policy
    base = {"object": inputs.object, "oldObject": inputs.old_object, "params": inputs.params}
    if compiled.match_conditions:
        conditions = _Stage(compiled, {**base, **inputs.authorizer, "request": inputs.match_request, "namespaceObject": None}, inputs)
        skipped, error = _match_conditions(compiled, conditions)
        if error is not None:
            if policy.failure_policy == "Ignore":
                return ValidateResult(skipped_by="matchConditions error ignored (failurePolicy: Ignore)")
            return _error_decision(policy.failure_policy, error)
        if skipped is not None:
            return ValidateResult(skipped_by=skipped)

    stage = _Stage(compiled, {**base, **inputs.authorizer, "request": inputs.request, "namespaceObject": inputs.namespace_object}, inputs)
    budget = CostBudget(RUNTIME_CEL_COST_BUDGET)
    results: list[tuple[Any, str | None, float]] = []
    try:
        for expression in compiled.validations:
            results.append(stage.evaluate(expression, budget))
    except CelCostError:
        return _error_decision(policy.failure_policy, OUT_OF_BUDGET)
    messages: list[Any] = []
    message_error: str | None = None
    try:
        for message_expression in compiled.message_expressions:
            messages.append(stage.evaluate(message_expression, budget)[0] if message_expression else None)
    except CelCostError:
        message_error = OUT_OF_BUDGET

    decisions = []
    for index, (validation, (value, error, elapsed)) in enumerate(zip(policy.validations, results)):
        if error is not None:
            decisions.append(Decision(_error_action(policy.failure_policy), "error", error, "", elapsed, index))
        elif message_error is not None:
            decisions.append(Decision(_error_action(policy.failure_policy), "error", f"failed messageExpression: {message_error}", "", elapsed, index))
        elif _plain(value) is not True:
            message = _failure_message(validation.expression, validation.message, messages[index] if index < len(messages) else None)
            decisions.append(Decision("deny", "deny", message, validation.reason or "Invalid", elapsed, index))
        else:
            decisions.append(Decision("admit", "admit", "", "", elapsed, index))

    audits = _Stage(compiled, {**base, "request": inputs.request, "namespaceObject": inputs.namespace_full}, inputs) if compiled.audit_annotations else None
    annotations = []
    audit_budget = CostBudget(RUNTIME_CEL_COST_BUDGET)
    for annotation, expression in zip(policy.audit_annotations, compiled.audit_annotations):
        assert audits is not None
        try:
            value, error, elapsed = audits.evaluate(expression, audit_budget)
        except CelCostError:
            return _error_decision(policy.failure_policy, OUT_OF_BUDGET)
        annotations.append(_audit_annotation(annotation.key, annotation.value_expression, value, error, elapsed, policy.failure_policy))
    return ValidateResult(tuple(decisions), tuple(annotations))


def _match_conditions(compiled: CompiledPolicy, stage: _Stage) -> tuple[str | None, str | None]:
    """(name of the false condition, aggregated error). All are evaluated first, as upstream;
    a false condition wins over errors."""
    budget = CostBudget(RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS)
    errors: list[str] = []
    false_name: str | None = None
    try:
        for condition, expression in zip(compiled.policy.match_conditions, compiled.match_conditions):
            value, error, _ = stage.evaluate(expression, budget)
            if error is not None:
                errors.append(error)
            elif _plain(value) is False and false_name is None:
                false_name = condition.name
    except CelCostError:
        return None, OUT_OF_BUDGET
    if false_name is not None:
        return f"matchCondition '{false_name}' is false", None
    if errors:
        return None, aggregate(errors)
    return None, None


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
