"""``isGreaterThan``, ``isLessThan`` and ``compareTo``, which Quantity and Semver both declare.

cel-go declares them once per type (quantity.go, semverlib.go). cel-cpp's runtime picks a
Python implementation by argument kind, and every opaque type is the same kind (a message),
so the typed overloads share one implementation (dispatch.py) that asks the receiver's type.
"""

from __future__ import annotations

from typing import Any, Callable

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary, quantity, semver
from webhook.cel.library.dispatch import UNREACHABLE, OverloadFamily, overload_family

T = cel.Type

# receiver type name -> (overload id prefix, Cmp of two values of that type)
_COMPARABLE: dict[str, tuple[str, cel.Type, Callable[[Any, Any], int]]] = {
    quantity.QUANTITY.name: ("quantity", quantity.QUANTITY.cel_type, quantity.compare),
    semver.SEMVER.name: ("semver", semver.SEMVER.cel_type, semver.compare),
}


def _compare(left: Any, right: Any) -> int:
    receiver, operand = left.DESCRIPTOR.full_name, right.DESCRIPTOR.full_name
    if receiver != operand or receiver not in _COMPARABLE:
        raise CelFunctionError("no such overload")
    return _COMPARABLE[receiver][2](left, right)


def _family(function: str, id_suffix: str, result: cel.Type, impl: Callable[[Any, Any], Any]) -> OverloadFamily:
    typed = [
        cel.Overload(f"{prefix}_{id_suffix}", result, [cel_type, cel_type], is_member=True)
        for prefix, cel_type, _ in _COMPARABLE.values()
    ]
    return overload_family(function, typed, [UNREACHABLE, UNREACHABLE], impl, is_member=True)


_FAMILIES = (
    _family("isGreaterThan", "is_greater_than", T.BOOL, lambda a, b: _compare(a, b) == 1),
    _family("isLessThan", "is_less_than", T.BOOL, lambda a, b: _compare(a, b) == -1),
    _family("compareTo", "compare_to", T.INT, _compare),
)

LIBRARY = CelLibrary(
    name="kubernetes.ordering",
    functions=(),
    declarations=tuple(family.declaration for family in _FAMILIES),
    implementations={key: impl for family in _FAMILIES for key, impl in family.implementations.items()},
)
