"""The Kubernetes CEL libraries, one module per library, assembled into one registry.

Each module exposes ``LIBRARY``: a :class:`CelLibrary` with its function declarations
(implementations in Python) and the cost of each overload for the cost estimator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from cel_expr_python import cel

# A cost function receives, for each argument of a call (receiver first for member calls),
# an upper bound of its size (string/bytes length, list/map entry count; 1 for scalars) and
# returns the upper bound of that call's cost in cel-go's cost units.
CostFunction = Callable[[Sequence[int]], int]


@dataclass(frozen=True)
class CelLibrary:
    name: str
    functions: Sequence[cel.FunctionDecl]
    costs: Mapping[str, CostFunction] = field(default_factory=dict)
    # overload id -> (result-size function) when the result size depends on argument sizes
    result_sizes: Mapping[str, CostFunction] = field(default_factory=dict)


def all_libraries() -> list[CelLibrary]:
    """Every Kubernetes library enabled for ValidatingAdmissionPolicy at v1.35."""
    from webhook.cel.library import registry

    return registry.LIBRARIES
