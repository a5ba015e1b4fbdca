"""cel-go's lists extension at version 3: slice, flatten, lists.range, distinct, reverse, sort.

Source: google/cel-go v0.26.0 ext/lists.go, enabled by kube-apiserver as
``ext.Lists(ext.ListsVersion(3))`` (k8s.io/apiserver/pkg/cel/environment/base.go, 1.34).
Overload ids are cel-go's (``list_slice``, ``list_flatten_int``, ``list_int_sort``, ...) so the
cost model can key on them. ``sortBy`` is a parser macro in cel-go and cel-expr-python cannot
add macros, so it is absent (compat.py D14).

cel-go declares most of these over ``list(T)``; cel-expr-python has no type parameters, so they
take and return ``list(dyn)`` (as kubernetes.lists' ``indexOf`` does). ``sort`` keeps cel-go's
typed overloads, one per comparable element type, through library/dispatch.py.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.dispatch import UNREACHABLE_LIST, overload_family, to_dyn_result
from webhook.cel.library.equality import cel_equal, compare, is_comparable
from webhook.cel.limits import COST_LIMIT_EXCEEDED, PER_CALL_LIMIT

T = cel.Type
_DYN_LIST = T.List(T.DYN)

# ext/lists.go comparableTypes, in cel-go's order, named by cel-go's Type.TypeName().
SORTABLE_TYPES: tuple[tuple[str, cel.Type], ...] = (
    ("int", T.INT),
    ("uint", T.UINT),
    ("double", T.DOUBLE),
    ("bool", T.BOOL),
    ("google.protobuf.Duration", T.DURATION),
    ("google.protobuf.Timestamp", T.TIMESTAMP),
    ("string", T.STRING),
    ("bytes", T.BYTES),
)

# cel-go v0.26 ext/lists.go cost trackers: what one call adds to the actual cost. kube-apiserver
# cancels an expression whose cost passes PER_CALL_LIMIT right after the call that did it, so a
# call whose own cost is already over the limit fails here before the work is done (a Python
# O(n^2) distinct or a huge lists.range would otherwise hang the webhook).
_CALL_COST = 1
_LIST_CREATE_BASE_COST = 10
_STRING_TRAVERSAL_COST_FACTOR = 0.1


def _charge(size: float) -> None:
    """trackAllocatingListCall: ``uint64(size * factor) + callCost + ListCreateBaseCost``."""
    if int(size) + _CALL_COST + _LIST_CREATE_BASE_COST > PER_CALL_LIMIT:
        raise CelFunctionError(COST_LIMIT_EXCEEDED)


def _charge_self_compare(items: list[Any]) -> None:
    """trackListSelfCompare (distinct, sort): ``n * n * 2``, plus 0.1 for strings and bytes."""
    factor = 2.0
    if items and isinstance(items[0], (str, bytes, bytearray)):
        factor += _STRING_TRAVERSAL_COST_FACTOR
    _charge(len(items) * len(items) * factor)


def _to_cel(value: Any) -> Any:
    """``value`` with every duration / timestamp (at any depth) as cel-cpp accepts it back."""
    if isinstance(value, list):
        return [_to_cel(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_cel(item) for key, item in value.items()}
    return to_dyn_result(value)


def list_slice(items: list[Any], start: int, end: int) -> list[Any]:
    if start < 0 or end < 0:
        raise CelFunctionError(f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise CelFunctionError(f"cannot slice({start}, {end}), start index must be less than or equal to end index")
    if len(items) < end:
        raise CelFunctionError(f"cannot slice({start}, {end}), list is length {len(items)}")
    _charge(end - start)
    return _to_cel(items[start:end])


def _flatten(items: list[Any], depth: int) -> list[Any]:
    flat: list[Any] = []
    for item in items:
        if isinstance(item, list) and depth > 0:
            flat.extend(_flatten(item, depth - 1))
        else:
            flat.append(item)
    return flat


def list_flatten(items: list[Any], depth: int = 1) -> list[Any]:
    if depth < 0:
        raise CelFunctionError("level must be non-negative")
    _charge(len(items) * float(depth))  # trackListFlatten: depth times the receiver's size
    return _to_cel(_flatten(items, depth))


def lists_range(n: int) -> list[int]:
    _charge(n)
    return list(range(n))  # cel-go v0.26 returns [] for a negative n


def list_reverse(items: list[Any]) -> list[Any]:
    _charge(len(items))
    return _to_cel(items[::-1])


def _equality_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key equal for exactly the values CEL's ``==`` equates, or None (compare them)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return None if value != value else ("number", value)  # NaN equals nothing; 1 == 1.0
    if isinstance(value, (str, datetime.timedelta, datetime.datetime)) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", bytes(value))
    return None


def list_distinct(items: list[Any]) -> list[Any]:
    _charge_self_compare(items)
    unique: list[Any] = []
    seen_keys: set[tuple[str, Any]] = set()
    compared: list[Any] = []  # lists, maps, messages, NaN: cel-go's pairwise Equal
    for item in items:
        key = _equality_key(item)
        if key is not None:
            if key in seen_keys:
                continue
            seen_keys.add(key)
        elif any(cel_equal(item, other) for other in compared):
            continue
        else:
            compared.append(item)
        unique.append(item)
    return _to_cel(unique)


def _sort_kind(value: Any) -> type:
    """cel-go's runtime type of a comparable value, as far as Python can tell (uint is int)."""
    if isinstance(value, bytearray):
        return bytes
    return type(value)


def list_sort(items: list[Any]) -> list[Any]:
    # ext/lists.go sortListByAssociatedKeys: the first element decides the type every other
    # element must have; sort.Slice compares every element of a list of two or more.
    _charge_self_compare(items)
    if not items:
        return []
    first = items[0]
    if not is_comparable(first):
        raise CelFunctionError("list elements must be comparable")
    kind = _sort_kind(first)
    if any(_sort_kind(item) is not kind for item in items):
        raise CelFunctionError("list elements must have the same type")

    def order(left: Any, right: Any) -> int:
        # cel-go sorts by Compare(...) == -1: NaN (an error there) is never less than anything.
        if compare(left, right) == -1:
            return -1
        return 1 if compare(right, left) == -1 else 0

    return _to_cel(sorted(items, key=functools.cmp_to_key(order)))


def _member(overload_id: str, returns: cel.Type, params: list[cel.Type], impl: Any) -> cel.Overload:
    return cel.Overload(overload_id, returns, params, is_member=True, impl=impl)


_SORT = overload_family(
    "sort",
    [cel.Overload(f"list_{name}_sort", T.List(elem), [T.List(elem)], is_member=True) for name, elem in SORTABLE_TYPES],
    [UNREACHABLE_LIST],
    list_sort,
    is_member=True,
)

LIBRARY = CelLibrary(
    # Not cel-go's "cel.lib.ext.lists": cel-expr-python enables cel-cpp's own lists extension by that name.
    name="celgate.ext.lists",
    functions=(
        cel.FunctionDecl("slice", [_member("list_slice", _DYN_LIST, [_DYN_LIST, T.INT, T.INT], list_slice)]),
        cel.FunctionDecl("flatten", [
            # cel-go: list(list(T)).flatten() -> list(T); a flat list(dyn) fails to type-check there too.
            _member("list_flatten", _DYN_LIST, [T.List(_DYN_LIST)], list_flatten),
            _member("list_flatten_int", _DYN_LIST, [_DYN_LIST, T.INT], list_flatten),
        ]),
        cel.FunctionDecl("lists.range", [cel.Overload("lists_range", T.List(T.INT), [T.INT], impl=lists_range)]),
        cel.FunctionDecl("reverse", [_member("list_reverse", _DYN_LIST, [_DYN_LIST], list_reverse)]),
        cel.FunctionDecl("distinct", [_member("list_distinct", _DYN_LIST, [_DYN_LIST], list_distinct)]),
    ),
    declarations=(_SORT.declaration,),
    implementations=_SORT.implementations,
)
