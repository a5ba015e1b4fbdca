"""Kubernetes list library: isSorted, sum, min, max, indexOf, lastIndexOf.

Source: k8s.io/apiserver/pkg/cel/library/lists.go (v1.35, unversioned: no ``includes``).
Overloads are declared per element type with cel-go's ids (``list_int_sum_int``, ...), so
the checker accepts and rejects what cel-go does and the cost model sees the same ids.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.dispatch import UNREACHABLE_LIST, OverloadFamily, overload_family
from webhook.cel.library.equality import cel_equal, compare, is_comparable
from webhook.cel.values import INT64_MAX, INT64_MIN

T = cel.Type

# lists.go summableTypes / comparableTypes, in cel-go's order.
SUMMABLE_TYPES: tuple[tuple[str, cel.Type], ...] = (
    ("int", T.INT),
    ("uint", T.UINT),
    ("double", T.DOUBLE),
    ("duration", T.DURATION),
)
COMPARABLE_TYPES: tuple[tuple[str, cel.Type], ...] = (
    ("int", T.INT),
    ("uint", T.UINT),
    ("double", T.DOUBLE),
    ("bool", T.BOOL),
    ("duration", T.DURATION),
    ("timestamp", T.TIMESTAMP),
    ("string", T.STRING),
    ("bytes", T.BYTES),
)


_NONE = object()


def _require_element(function: str, item: Any) -> None:
    # cel-go dispatches these per element type: an element no overload takes is reported as
    # the call's own failure, with the receiver's type (library/lists.go, "isSorted(list)").
    if not is_comparable(item):
        raise CelFunctionError(f"no such overload: {function}(list)")


def is_sorted(items: list[Any]) -> bool:
    previous: Any = _NONE
    for item in items:
        _require_element("isSorted", item)
        # cel-go only looks for "greater than"; an ordering error (mixed kinds) is ignored.
        if previous is not _NONE and compare(previous, item) == 1:
            return False
        previous = item
    return True


def list_sum(items: list[Any]) -> Any:
    # The static element type is not visible here, so an empty list sums to int 0 (cel-go
    # returns the zero of the declared type; 0 == 0.0 == 0u still holds).
    if not items:
        return 0
    total = items[0]
    if isinstance(total, bool) or not isinstance(total, (int, float, datetime.timedelta)):
        raise CelFunctionError("no such overload: sum(list)")  # no overload for this element type
    for item in items[1:]:
        total = _add(total, item)
    return total


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, bool) or isinstance(right, bool):
        raise CelFunctionError("no such overload")
    if isinstance(left, float) and isinstance(right, float):
        return left + right
    if isinstance(left, int) and isinstance(right, int):
        total = left + right
        if not INT64_MIN <= total <= INT64_MAX:
            raise CelFunctionError("integer overflow")
        return total
    if isinstance(left, datetime.timedelta) and isinstance(right, datetime.timedelta):
        return left + right
    raise CelFunctionError("no such overload")


def _extreme(name: str, preferred: int) -> Callable[[list[Any]], Any]:
    def pick(items: list[Any]) -> Any:
        result: Any = _NONE
        for item in items:
            _require_element(name, item)
            if result is _NONE:
                result = item
            elif compare(result, item) == preferred:
                result = item
        if result is _NONE:
            raise CelFunctionError(f"{name} called on empty list")
        return result

    return pick


list_min = _extreme("min", 1)
list_max = _extreme("max", -1)


def index_of(items: list[Any], value: Any) -> int:
    return next((i for i, item in enumerate(items) if cel_equal(item, value)), -1)


def last_index_of(items: list[Any], value: Any) -> int:
    return next((i for i in range(len(items) - 1, -1, -1) if cel_equal(items[i], value)), -1)


def _typed_family(
    function: str,
    types: tuple[tuple[str, cel.Type], ...],
    overload_id: Callable[[str], str],
    returns: Callable[[cel.Type], cel.Type],
    impl: Callable[..., Any],
) -> OverloadFamily:
    typed = [cel.Overload(overload_id(name), returns(elem), [T.List(elem)], is_member=True) for name, elem in types]
    return overload_family(function, typed, [UNREACHABLE_LIST], impl, is_member=True)


def _index_function(function: str, overload_id: str, impl: Callable[..., Any]) -> cel.FunctionDecl:
    # cel-go declares list(A).indexOf(A); without type parameters list(dyn), dyn is the closest.
    # A plain extension function: strings ext declares indexOf too, and only extensions merge.
    return cel.FunctionDecl(function, [cel.Overload(overload_id, T.INT, [T.List(T.DYN), T.DYN], is_member=True, impl=impl)])


_FAMILIES = (
    _typed_family("isSorted", COMPARABLE_TYPES, lambda n: f"list_{n}_is_sorted_bool", lambda _: T.BOOL, is_sorted),
    _typed_family("sum", SUMMABLE_TYPES, lambda n: f"list_{n}_sum_{n}", lambda t: t, list_sum),
    _typed_family("max", COMPARABLE_TYPES, lambda n: f"list_{n}_max_{n}", lambda t: t, list_max),
    _typed_family("min", COMPARABLE_TYPES, lambda n: f"list_{n}_min_{n}", lambda t: t, list_min),
)

LIBRARY = CelLibrary(
    name="kubernetes.lists",
    functions=(
        _index_function("indexOf", "list_a_index_of_int", index_of),
        _index_function("lastIndexOf", "list_a_last_index_of_int", last_index_of),
    ),
    declarations=tuple(family.declaration for family in _FAMILIES),
    implementations={k: v for family in _FAMILIES for k, v in family.implementations.items()},
)
