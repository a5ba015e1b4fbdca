"""The Kubernetes CEL libraries, one module per library, assembled into one registry.

Each module exposes ``LIBRARY``: a :class:`CelLibrary` with its function declarations
(implementations in Python). Overload ids are the ones cel-go uses in
k8s.io/apiserver/pkg/cel/library, so the cost model (webhook/cel/cost.py) can key on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from cel_expr_python import cel

@dataclass(frozen=True)
class CelLibrary:
    name: str
    functions: Sequence[cel.FunctionDecl]
    # Declarations whose implementations are bound by overload id (NewEnv functions= /
    # function_impls=): the only way cel-cpp accepts several typed overloads sharing one
    # Python implementation (see library/dispatch.py). Names must not clash with extensions.
    declarations: Sequence[cel.FunctionDecl] = ()
    implementations: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


def all_libraries() -> list[CelLibrary]:
    """Every Kubernetes library enabled for ValidatingAdmissionPolicy at v1.35."""
    from webhook.cel.library import registry

    return registry.LIBRARIES
