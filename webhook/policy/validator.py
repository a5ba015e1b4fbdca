"""Evaluating one policy for one binding and one param: matchConditions, validations,
messageExpressions, auditAnnotations.

Mirrors k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go (v1.35) and
webhook/matchconditions/matcher.go: every result is a :class:`Decision` (admit or deny, and
whether it came from a failed validation or an error), so the dispatcher applies the binding's
validationActions without re-evaluating anything.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from cel_expr_python import cel

from webhook.cel import (
    PER_CALL_LIMIT,
    RUNTIME_CEL_COST_BUDGET,
    RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS,
    CelCostError,
    CelEvaluationError,
    CostBudget,
)
from webhook.cel.runtime_errors import strip_status
from webhook.cel.cost import largest_size
from webhook.cel.values import INT64_MAX, INT64_MIN, from_cel, to_cel, type_name
from webhook.cel.runtime_cost import ITERATION_CAP, Unsupported
from webhook.policy import exact
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


class RequestCache:
    """What every evaluation of one request shares, so that work done for one policy is not
    repeated for the next: CEL conversions and sizes of the request's values (by identity; the
    cache keeps each value alive, so an id() is never reused while it is in there), and the
    values of policy variables, keyed by what determines them (the stage's inputs and the source
    of the variable and of every variable it reads). The Pod Security policies all declare the
    same ``podSpec``/``allContainers`` variables: each is computed once per request, not 19 times.
    """

    def __init__(self) -> None:
        self._converted: dict[int, tuple[Any, Any]] = {}
        self._sizes: dict[int, tuple[Any, int]] = {}
        self.variables: dict[tuple[Any, ...], tuple[Any, int]] = {}
        # cel-cpp converts a top-level value on its first use in each activation (a Pod takes
        # hundreds of microseconds), so stages with the same inputs share one activation.
        self.activations: dict[tuple[Any, ...], Any] = {}

    def to_cel(self, value: Any) -> Any:
        if _is_opaque(value):
            return value
        if not isinstance(value, (dict, list)):
            return to_cel(value)
        cached = self._converted.get(id(value))
        if cached is None or cached[0] is not value:
            cached = self._converted[id(value)] = (value, to_cel(value))
        return cached[1]

    def size(self, value: Any) -> int:
        """cost.largest_size of a value, once per value."""
        if not isinstance(value, (dict, list, str)):
            return 1
        cached = self._sizes.get(id(value))
        if cached is None or cached[0] is not value:
            cached = self._sizes[id(value)] = (value, largest_size(value))
        return cached[1]


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
    cache: RequestCache = field(default_factory=RequestCache)


class _Stage:
    """The activation of one filter (validations and messages, or audit annotations) and
    the values of the variables its expressions read, each computed at most once per request.

    A variable whose value is plain JSON is handed to later expressions in the ``variables``
    map, so they run as written (``direct``) and the cost model sees the real value. A variable
    that failed, or whose value CEL cannot take back (an optional, a Quantity), makes its
    readers run their composed program instead, which re-binds it lazily (composition.py).
    """

    def __init__(self, compiled: CompiledPolicy, data: dict[str, Any], inputs: "Inputs", exact: bool = True) -> None:
        self.compiled = compiled
        self.exact = exact  # whether a bound that cannot decide may hand over to exact.py
        self.env = environment(compiled.policy.param_kind is not None)
        self.cache = inputs.cache
        self.plain = {k: v for k, v in data.items() if k in self.env.variables and k != "variables"}
        self.cel_data = {k: self.cache.to_cel(v) for k, v in self.plain.items()}
        # Everything that determines a variable's value besides the policy's own variables.
        self.identity = tuple(sorted((k, id(v)) for k, v in self.plain.items()))
        self.base_size = max((self.cache.size(v) for v in self.plain.values()), default=1)
        self.size_hint = self.base_size
        self.values: dict[str, Any] = {}  # variable name -> plain value
        self._keys: dict[str, tuple[Any, ...]] = {}  # variable name -> its RequestCache key
        self.unusable: set[str] = set()  # variables that failed or cannot be handed back
        self._activation: Any = None
        self._bound: frozenset[str] = frozenset()

    def _activation_with(self, names: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
        if self._activation is None or not set(names) <= self._bound:
            bound = frozenset(self.values)
            key = (id(self.env), self.identity, frozenset((n, self._keys[n]) for n in bound))
            activation = self.cache.activations.get(key)
            if activation is None:
                variables = {name: self.cache.to_cel(value) for name, value in self.values.items()}
                activation = self.cache.activations[key] = self.env.activation({**self.cel_data, "variables": variables})
            self._activation, self._bound = activation, bound
        return self._activation, {**self.plain, "variables": {n: self.values[n] for n in self._bound}}

    def _variable_key(self, variable: PolicyExpression) -> tuple[Any, ...]:
        sources = tuple((name, self.compiled.variable(name).source) for name in variable.dependencies)
        return (self.identity, variable.source, sources)

    def _prepare(self, names: tuple[str, ...], budget: CostBudget) -> None:
        for name in names:
            if name in self.values or name in self.unusable:
                continue
            variable = self.compiled.variable(name)
            key = self._variable_key(variable)
            cached = self.cache.variables.get(key)
            if cached is None:
                value, error, _ = self._run(variable, budget)
                plain = _UNUSABLE if error is not None else _plain_value(value, variable)
                cached = self.cache.variables[key] = (plain, 1 if plain is _UNUSABLE else self.cache.size(plain))
            else:
                self._prepare(variable.dependencies, budget)
                # Another policy computed it; this evaluation is charged as if it ran it too.
                variable.direct.charge(self._sizes(variable.dependencies), budget, self.size_hint)
            plain, size = cached
            self._keys[name] = key
            if plain is _UNUSABLE:
                self.unusable.add(name)
            else:
                self.values[name] = plain
                self.size_hint = max(self.size_hint, size)

    def _sizes(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {**self.plain, "variables": {n: self.values[n] for n in names if n in self.values}}

    def _base_activation(self) -> Any:
        key = (id(self.env), self.identity, frozenset())
        activation = self.cache.activations.get(key)
        if activation is None:
            activation = self.cache.activations[key] = self.env.activation({**self.cel_data, "variables": {}})
        return activation

    def _run_composed(self, expression: PolicyExpression, budget: CostBudget) -> tuple[Any, str | None, float] | None:
        """The fast path: the composed program over the request's shared activation, so no
        variable value leaves CEL and the object is converted once per request, not once per
        policy. Taken when the cached uniform cost bound of the composed program fits both
        limits; otherwise None, and the expression runs with computed variables (``_run``)."""
        program = expression.program
        if program is None or not expression.dependencies:
            return None
        bound = program.uniform_cost(self.base_size)
        if bound > PER_CALL_LIMIT or not budget.charge_provisionally(bound, program, self.plain):
            return None
        started = time.perf_counter()
        try:
            value = program.run(self._base_activation())
        except CelEvaluationError as exc:
            # upstream wraps a failing variable's error ("composited variable ..."): exact.py
            self._hand_over()
            return None, _expression_error(expression, exc.message), time.perf_counter() - started
        except RuntimeError as exc:
            self._hand_over(str(exc))
            return None, _expression_error(expression, strip_status(str(exc))), time.perf_counter() - started
        return value, None, time.perf_counter() - started

    def _hand_over(self, cel_cpp_failure: str | None = None) -> None:
        """Let exact.py decide: always when cel-cpp stopped at its own iteration cap (cel-go has
        none), otherwise only where it can answer more exactly (``cel_cpp_failure`` None)."""
        if self.exact and (cel_cpp_failure is None or ITERATION_CAP in cel_cpp_failure):
            raise NeedsExact()

    def _run(self, expression: PolicyExpression, budget: CostBudget) -> tuple[Any, str | None, float]:
        fast = self._run_composed(expression, budget)
        if fast is not None:
            return fast
        self._prepare(expression.dependencies, budget)
        if any(name in self.unusable for name in expression.dependencies):
            if expression.program is None:
                failed = next(n for n in expression.dependencies if n in self.unusable)
                return None, _expression_error(expression, _untransferable(failed)), 0.0
            program, names = expression.program, ()
        else:
            program, names = expression.direct, expression.dependencies
        activation, sizes = self._activation_with(names)
        started = time.perf_counter()
        try:
            value = program.evaluate_raw(activation, budget, sizes=sizes, size_hint=self.size_hint)
        except CelCostError as exc:
            # An upper bound exceeded a limit; cel-go charges as the program actually runs.
            self._hand_over()
            if not exc.per_call:
                raise
            return None, _expression_error(expression, exc.message), time.perf_counter() - started
        except CelEvaluationError as exc:
            if expression.dependencies:
                self._hand_over()
            return None, _expression_error(expression, exc.message), time.perf_counter() - started
        except RuntimeError as exc:
            # cel-cpp limits (its comprehension iteration budget) surface as exceptions
            self._hand_over(str(exc))
            return None, _expression_error(expression, strip_status(str(exc))), time.perf_counter() - started
        return value, None, time.perf_counter() - started

    def evaluate(self, expression: PolicyExpression, budget: CostBudget) -> tuple[Any, str | None, float]:
        """(value, error message, elapsed); budget exhaustion raises CelCostError."""
        return self._run(expression, budget)

    def charge_only(self, expression: PolicyExpression, budget: CostBudget) -> None:
        """Charge what evaluating ``expression`` would cost, without evaluating it (a
        messageExpression whose validation passed: upstream evaluates it and discards the
        result, so only its cost can change the outcome). Budget exhaustion raises."""
        self._prepare(expression.dependencies, budget)
        program = expression.program if any(n in self.unusable for n in expression.dependencies) else expression.direct
        if program is None:
            return
        try:
            program.charge(self._sizes(expression.dependencies), budget, self.size_hint)
        except CelCostError as exc:
            self._hand_over()
            if not exc.per_call:
                raise


class NeedsExact(Exception):
    """The cheap path cannot decide this filter as cel-go would: exact.py evaluates it."""


_UNUSABLE = object()
_JSON_SCALARS = (str, bool, float, type(None))


def _plain_value(value: Any, variable: PolicyExpression) -> Any:
    """The variable's value as JSON-shaped data, or _UNUSABLE when it cannot round-trip."""
    if "UINT" in variable.direct.output_type or (variable.program is not None and "UINT" in variable.program.output_type):
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


def _untransferable(variable: str) -> str:
    return (f"variables.{variable} failed or holds a value celgate cannot pass between expressions, and this "
            "expression nests too deeply for celgate to inline it (cel-cpp's parser depth limit is 32)")


def _is_true(value: Any) -> bool:
    if value is True:  # exact.py's values are plain
        return True
    return isinstance(value, cel.Value) and value.type() == cel.Type.BOOL and value.value() is True


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


class FastPaths:
    """Whether the cheap path runs first (the default). Off, every policy is evaluated by
    exact.py alone (where it can run): the reference the fast paths are tested against
    (tests/policy/test_fast_paths.py), also settable as CELGATE_FAST_PATHS=off."""

    enabled: bool = os.environ.get("CELGATE_FAST_PATHS", "on").lower() not in ("0", "off", "false", "no")
    exact_runs: int = 0  # policies decided by exact.py, for tests and benchmarks
    exact_unsupported: int = 0


def validate(compiled: CompiledPolicy, inputs: Inputs) -> ValidateResult:
    """The policy's decisions for one binding and param: exact where the cheap path cannot
    decide (exact.py), the cheap path's answer where the exact evaluator cannot run."""
    if FastPaths.enabled:
        try:
            return _validate(compiled, inputs, exact=True)
        except NeedsExact:
            pass
    try:
        result = _validate_exactly(compiled, inputs)
        FastPaths.exact_runs += 1
        return result
    except Unsupported:
        FastPaths.exact_unsupported += 1
        return _validate(compiled, inputs, exact=False)


def _stage_data(compiled: CompiledPolicy, inputs: Inputs, *, match: bool = False, audit: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"object": inputs.object, "oldObject": inputs.old_object, "params": inputs.params}
    if match:
        data.update(inputs.authorizer)
        data.update({"request": inputs.match_request, "namespaceObject": None})
    elif audit:
        data.update({"request": inputs.request, "namespaceObject": inputs.namespace_full})
    else:
        data.update(inputs.authorizer)
        data.update({"request": inputs.request, "namespaceObject": inputs.namespace_object})
    names = environment(compiled.policy.param_kind is not None).variables
    return {k: v for k, v in data.items() if k in names and k != "variables"}


def _validate_exactly(compiled: CompiledPolicy, inputs: Inputs) -> ValidateResult:
    policy = compiled.policy
    if compiled.match_conditions:
        skipped, error = _match_conditions_exactly(compiled, _stage_data(compiled, inputs, match=True))
        if error is not None:
            if policy.failure_policy == "Ignore":
                return ValidateResult(skipped_by="matchConditions error ignored (failurePolicy: Ignore)")
            return _error_decision(policy.failure_policy, error)
        if skipped is not None:
            return ValidateResult(skipped_by=skipped)
    data = _stage_data(compiled, inputs)
    try:
        found, remaining = exact.run_filter(compiled, data, compiled.validations, RUNTIME_CEL_COST_BUDGET)
    except CelCostError:
        return _error_decision(policy.failure_policy, OUT_OF_BUDGET)
    results: list[tuple[Any, str | None, float]] = [r for r in found if r is not None]
    messages: list[Any] = []
    message_error: str | None = None
    try:
        evaluated, _ = exact.run_filter(compiled, data, compiled.message_expressions, remaining)
        messages = [None if r is None else r[0] for r in evaluated]
    except CelCostError:
        message_error = OUT_OF_BUDGET
    decisions = _decisions(policy, results, messages, message_error)
    annotations = []
    if compiled.audit_annotations:
        try:
            audited, _ = exact.run_filter(compiled, _stage_data(compiled, inputs, audit=True), compiled.audit_annotations, RUNTIME_CEL_COST_BUDGET)
        except CelCostError:
            return _error_decision(policy.failure_policy, OUT_OF_BUDGET)
        for annotation, outcome in zip(policy.audit_annotations, audited):
            assert outcome is not None
            value, error, elapsed = outcome
            annotations.append(_audit_annotation(annotation.key, annotation.value_expression, value, error, elapsed, policy.failure_policy))
    return ValidateResult(tuple(decisions), tuple(annotations))


def _match_conditions_exactly(compiled: CompiledPolicy, data: dict[str, Any]) -> tuple[str | None, str | None]:
    try:
        found, _ = exact.run_filter(compiled, data, compiled.match_conditions, RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS)
    except CelCostError:
        return None, OUT_OF_BUDGET
    return _match_outcome(compiled, [r for r in found if r is not None])


def _decisions(policy: Any, results: list[tuple[Any, str | None, float]], messages: list[Any], message_error: str | None) -> list[Decision]:
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


def _validate(compiled: CompiledPolicy, inputs: Inputs, *, exact: bool) -> ValidateResult:
    policy = compiled.policy
    base = {"object": inputs.object, "oldObject": inputs.old_object, "params": inputs.params}
    if compiled.match_conditions:
        conditions = _Stage(compiled, {**base, **inputs.authorizer, "request": inputs.match_request, "namespaceObject": None}, inputs, exact)
        skipped, error = _match_conditions(compiled, conditions)
        if error is not None:
            if policy.failure_policy == "Ignore":
                return ValidateResult(skipped_by="matchConditions error ignored (failurePolicy: Ignore)")
            return _error_decision(policy.failure_policy, error)
        if skipped is not None:
            return ValidateResult(skipped_by=skipped)

    stage = _Stage(compiled, {**base, **inputs.authorizer, "request": inputs.request, "namespaceObject": inputs.namespace_object}, inputs, exact)
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
        pending = sum(1 for m in compiled.message_expressions if m is not None)
        for message_expression, (value, error, _) in zip(compiled.message_expressions, results):
            if message_expression is None:
                messages.append(None)
                continue
            pending -= 1
            if error is None and _is_true(value):
                # Upstream evaluates it and discards the result; only its cost can matter, and
                # no messageExpression costs more than PER_CALL_LIMIT. With room for every one
                # left at that cost, the budget cannot run out whatever it costs: skip it.
                if budget.remaining < PER_CALL_LIMIT * (pending + 1):
                    stage.charge_only(message_expression, budget)
                messages.append(None)
            else:
                messages.append(stage.evaluate(message_expression, budget)[0])
    except CelCostError:
        message_error = OUT_OF_BUDGET

    decisions = _decisions(policy, results, messages, message_error)

    audits = _Stage(compiled, {**base, "request": inputs.request, "namespaceObject": inputs.namespace_full}, inputs, exact) if compiled.audit_annotations else None
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


def _match_outcome(compiled: CompiledPolicy, results: list[tuple[Any, str | None, float]]) -> tuple[str | None, str | None]:
    """(name of the first false condition, aggregated error): a false condition wins."""
    errors: list[str] = []
    for condition, (value, error, _) in zip(compiled.policy.match_conditions, results):
        if error is None and _plain(value) is False:
            return f"matchCondition '{condition.name}' is false", None
        if error is not None:
            errors.append(error)
    return (None, aggregate(errors)) if errors else (None, None)


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
