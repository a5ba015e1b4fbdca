"""A filter of a policy evaluated with cel-go's exact runtime cost (webhook/cel/runtime_cost.py).

kube-apiserver evaluates each filter (validations, then messageExpressions with what is left
of the budget; auditAnnotations; matchConditions) expression by expression over one
activation (admission/plugin/cel/filter.go and condition.go ForInput): a variable is evaluated
at most once per filter, when an expression first reads it, as its own program under the
per-call limit, and its cost is charged to the filter's budget before the reading
expression's own cost (composition.go variableAccessor; "validation failed due to running
out of cost budget" when either does not fit). A variable that fails reads as
``composited variable "x" fails to evaluate: <error>``. validator.py takes this path when its
cheap upper bounds cannot prove that no limit is reached, when cel-cpp's own iteration cap
stopped an expression, and for the exact text of an error in an expression with variables.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from webhook.cel import OUT_OF_BUDGET, PER_CALL_LIMIT, CelCostError
from webhook.cel.runtime_cost import COST_LIMIT_EXCEEDED, CostLimitExceeded, Error, evaluate
from webhook.policy.compiler import CompiledPolicy, PolicyExpression, environment


Result = tuple[Any, "str | None", float]  # (value, error message, elapsed) as validator.py uses it


class ExactFilter:
    """One ForInput: one activation, one lazy variable map, one budget."""

    def __init__(self, compiled: CompiledPolicy, activation: Mapping[str, Any], budget: int,
                 shared: dict[tuple[Any, ...], tuple[Any, int, tuple[str, ...]]] | None = None) -> None:
        self.compiled = compiled
        self.activation = activation
        self.remaining = budget
        self.env = environment(compiled.policy.param_kind is not None)
        self.calls = self.env.calls()
        self._values: dict[str, Any] = {}
        self._composition_cost = 0
        # (what determines a variable) -> (value, its own cost, the variables it read first):
        # shared by the filters and policies of one request, so a variable another filter (the
        # messageExpressions re-read the validations' variables) or another policy with the
        # same definitions already evaluated is charged again, as upstream, but not re-run.
        self._shared = shared if shared is not None else {}
        self._identity = (id(self.env), *sorted((k, id(v)) for k, v in activation.items()))
        self._reading: list[list[str]] = []

    def _key(self, variable: PolicyExpression) -> tuple[Any, ...]:
        sources = tuple((name, self.compiled.variable(name).source) for name in variable.dependencies)
        return (self._identity, variable.source, sources)

    def _variable(self, name: str) -> Any:
        if self._reading:
            self._reading[-1].append(name)
        if name in self._values:
            return self._values[name]
        variable = self.compiled.variable(name)
        if variable.direct.ast is None:
            raise CelCostError("internal error: a variable without an AST", per_call=False)
        key = self._key(variable)
        known = self._shared.get(key)
        if known is not None:
            value, cost, read = known
            for dependency in read:  # charged as their first reads were
                self._variable(dependency)
        else:
            self._reading.append([])
            try:
                value, cost = evaluate(variable.direct.ast, self.calls, self.activation, PER_CALL_LIMIT, self._variable)
            except CostLimitExceeded as exc:
                value, cost = Error(COST_LIMIT_EXCEEDED), exc.cost
            finally:
                read = tuple(dict.fromkeys(self._reading.pop()))
            if isinstance(value, Error):
                value = Error(f'composited variable "{name}" fails to evaluate: {value.message}')
            self._shared[key] = (value, cost, read)
        self._composition_cost += cost
        self._values[name] = value
        return value

    def run(self, expression: PolicyExpression) -> Result:
        """Evaluate one expression; the budget running out raises CelCostError (not per call)."""
        ast = expression.direct.ast
        if ast is None:
            raise CelCostError("internal error: an expression without an AST", per_call=False)
        started = time.perf_counter()
        try:
            value, cost = evaluate(ast, self.calls, self.activation, PER_CALL_LIMIT, self._variable)
        except CostLimitExceeded as exc:
            value, cost = Error(COST_LIMIT_EXCEEDED), exc.cost
        elapsed = time.perf_counter() - started
        composition, self._composition_cost = self._composition_cost, 0
        if composition > self.remaining:
            raise CelCostError(OUT_OF_BUDGET, per_call=False)
        self.remaining -= composition
        if cost > self.remaining:
            raise CelCostError(OUT_OF_BUDGET, per_call=False)
        self.remaining -= cost
        if isinstance(value, Error):
            # cel/activation.go Evaluate
            return None, f"expression '{expression.source}' resulted in error: {value.message}", elapsed
        return value, None, elapsed


def run_filter(compiled: CompiledPolicy, activation: Mapping[str, Any], expressions: Sequence[PolicyExpression | None],
               budget: int, shared: dict[tuple[Any, ...], tuple[Any, int, tuple[str, ...]]] | None = None,
               ) -> tuple[list[Result | None], int]:
    """Every expression in order (None placeholders stay None); the remaining budget."""
    exact = ExactFilter(compiled, activation, budget, shared)
    return [None if e is None else exact.run(e) for e in expressions], exact.remaining
