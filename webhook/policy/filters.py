"""Evaluating one filter of a policy: its expressions' results, in order, as kube-apiserver's
filter.go ForInput gives them (a value or an error message each; the budget running out).

Three ways, tried in this order (validator.py):

* :func:`planned` — the filter's plan (plan.py): usually one cel-cpp call over the request's
  shared activation. Its answer is final only when nothing failed and the cost bound of
  everything it evaluated proves that no limit is reached; otherwise it answers None.
* :func:`exact` — exact.py: the checked AST evaluated with cel-go's runtime cost, lazy variables
  charged once, errors worded as kube-apiserver words them. Raises Unsupported for what it
  cannot carry.
* :func:`one_by_one` — each expression alone, its variables inlined, its cost bounded: correct
  values, upper-bound costs. Only where the exact evaluator cannot run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from cel_expr_python import cel

from webhook.cel import PER_CALL_LIMIT, CelCostError, CelEnvironment, CelEvaluationError, CostBudget
from webhook.cel.runtime_errors import strip_status
from webhook.cel.values import Survey, plain, survey, to_cel
from webhook.policy import exact as exact_filter
from webhook.policy.exact import Result
from webhook.policy.compiler import CompiledPolicy, PolicyExpression
from webhook.policy.plan import FilterPlan, unwrap



class BudgetExhausted(Exception):
    """The filter ran out of its runtime cost budget."""


@dataclass
class RequestContext:
    """What the evaluations of one request share: each input value surveyed once (its sizes, and
    whether it needs converting for CEL), converted at most once, and one activation per set of
    inputs (cel-cpp converts a value on its first use in each activation, tens of microseconds
    for a Pod). Keyed by identity; the context keeps every keyed value alive, so an id() is not
    reused while it is here."""

    _surveyed: dict[int, tuple[Any, Survey, Any]] = field(default_factory=dict)  # id -> (value, survey, for CEL)
    _activations: dict[tuple[Any, ...], tuple[Any, cel.Activation]] = field(default_factory=dict)
    # exact.py's variables, shared by the filters and policies of the request
    variables: dict[tuple[Any, ...], tuple[Any, int, tuple[str, ...]]] = field(default_factory=dict)

    def _survey(self, value: Any) -> tuple[Any, Survey, Any]:
        cached = self._surveyed.get(id(value))
        if cached is None:
            found = survey(value)
            cached = self._surveyed[id(value)] = (value, found, value if found.as_is else to_cel(value))
        return cached

    def convert(self, value: Any) -> Any:
        if not isinstance(value, (dict, list)):
            return value if hasattr(value, "DESCRIPTOR") else to_cel(value)
        return self._survey(value)[2]

    def sizes(self, data: Mapping[str, Any]) -> tuple[int, int]:
        """(largest string, list or map; largest list or map) over the values of ``data``: the
        size classes of the uniform cost bound."""
        largest = collection = 1
        for value in data.values():
            if isinstance(value, (dict, list)):
                found = self._survey(value)[1]
                largest, collection = max(largest, found.largest), max(collection, found.collection)
            elif isinstance(value, str):
                largest = max(largest, len(value))
        return largest, collection

    def size(self, data: Mapping[str, Any]) -> int:
        return self.sizes(data)[0]

    def activation(self, env: CelEnvironment, data: Mapping[str, Any]) -> cel.Activation:
        key = (id(env), *sorted((name, id(value)) for name, value in data.items()))
        cached = self._activations.get(key)
        if cached is None:
            converted = {name: self.convert(value) for name, value in data.items()}
            cached = self._activations[key] = (data, env.activation(converted))
        return cached[1]


def planned(plan: FilterPlan, env: CelEnvironment, context: RequestContext, data: Mapping[str, Any],
            budget: int, filters: int = 1) -> list[Any] | None:
    """The filter's results from its plan, or None when the plan cannot decide: it is not
    planned, something failed (lazy evaluation could differ), or the cost bound of all it
    evaluates, charged once per filter it stands for, is not within both limits."""
    if not plan.planned:
        return None
    bound = 0
    variables: dict[str, Any] = {}
    for stage in plan.stages:
        stage_data = {**data, "variables": {name: variables[name] for name in stage.needs}} if stage.needs else data
        bound += stage.program.uniform_cost(*context.sizes(stage_data))
        if bound > PER_CALL_LIMIT or bound * filters > budget:
            return None
        try:
            value = stage.program.run(context.activation(env, stage_data))
            result = plain(value)
        except (CelEvaluationError, RuntimeError, TypeError, ValueError):
            return None
        if stage.final:
            results = unwrap(result, stage.count)
            return results if isinstance(results, list) and len(results) == plan.size else None
        variables.update(zip(stage.names, unwrap(result, stage.count)))
    return None


def exact(compiled: CompiledPolicy, context: RequestContext, data: Mapping[str, Any],
          expressions: Sequence[PolicyExpression | None], budget: int) -> tuple[list[Result | None], int]:
    """exact.py's results and the budget left; BudgetExhausted when it runs out."""
    try:
        return exact_filter.run_filter(compiled, data, expressions, budget, context.variables)
    except CelCostError:
        raise BudgetExhausted() from None


def one_by_one(compiled: CompiledPolicy, env: CelEnvironment, context: RequestContext, data: Mapping[str, Any],
               expressions: Sequence[PolicyExpression | None], budget: CostBudget) -> list[Result | None]:
    """Each expression alone with its variables inlined, charged its cost bound."""
    run = _OneByOne(compiled, context.activation(env, data), data, context.size(data))
    results: list[Result | None] = []
    for expression in expressions:
        if expression is None:
            results.append(None)
            continue
        started = time.perf_counter()
        value, error = run.evaluate(expression, budget)
        if error is not None and expression.dependencies:
            error = run.attributed(expression, error)
        results.append((value, None if error is None else _error(expression, error), time.perf_counter() - started))
    return results


class _OneByOne:
    def __init__(self, compiled: CompiledPolicy, activation: cel.Activation, data: Mapping[str, Any], hint: int) -> None:
        self.compiled, self.activation, self.data, self.hint = compiled, activation, data, hint
        self._failures: dict[str, tuple[str, str] | None] = {}  # variable -> (raw error, as upstream words it)

    def evaluate(self, expression: PolicyExpression, budget: CostBudget | None) -> tuple[Any, str | None]:
        program = expression.program
        if program is None:
            return None, ("celgate cannot evaluate this expression on its own: its variables cannot be inlined "
                          "(see webhook/policy/compiler.py)")
        try:
            program.charge(self.data, budget, self.hint)
            value = program.run(self.activation)
        except CelCostError as exc:
            if not exc.per_call:
                raise BudgetExhausted() from None
            return None, exc.message
        except CelEvaluationError as exc:
            return None, exc.message
        except RuntimeError as exc:
            return None, strip_status(str(exc))
        try:
            return plain(value), None
        except Exception:  # noqa: BLE001 - a value Python cannot hold (an optional)
            return value, None

    def _failure(self, name: str) -> tuple[str, str] | None:
        if name not in self._failures:
            self._failures[name] = None
            variable = self.compiled.variable(name)
            _, error = self.evaluate(variable, None)
            if error is not None:
                self._failures[name] = (error, f'composited variable "{name}" fails to evaluate: {self.attributed(variable, error)}')
        return self._failures[name]

    def attributed(self, expression: PolicyExpression, error: str) -> str:
        """An error as upstream words it when a variable the expression reads failed with it
        (composition.go: 'composited variable "x" fails to evaluate: ...')."""
        for name in expression.dependencies:
            failure = self._failure(name)
            if failure is not None and failure[0] == error:
                return failure[1]
        return error


def _error(expression: PolicyExpression, message: str) -> str:
    # cel/activation.go Evaluate
    return f"expression '{expression.source}' resulted in error: {message}"
