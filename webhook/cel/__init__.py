"""The Kubernetes CEL dialect on cel-cpp. Nothing outside this package imports the engine."""

from webhook.cel.environment import CelEnvironment, CompiledExpression, CostBudget
from webhook.cel.errors import CelCompileError, CelCostError, CelError, CelEvaluationError
from webhook.cel.limits import (
    OUT_OF_BUDGET,
    PER_CALL_LIMIT,
    RUNTIME_CEL_COST_BUDGET,
    RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS,
)

__all__ = [
    "OUT_OF_BUDGET",
    "PER_CALL_LIMIT",
    "RUNTIME_CEL_COST_BUDGET",
    "RUNTIME_CEL_COST_BUDGET_MATCH_CONDITIONS",
    "CelEnvironment",
    "CompiledExpression",
    "CostBudget",
    "CelCompileError",
    "CelCostError",
    "CelError",
    "CelEvaluationError",
]
