"""cel-go's sets extension: sets.contains, sets.equivalent, sets.intersects.

Source: cel-go ext/sets.go (v0.26, the version kube-apiserver v1.35 vendors). Membership uses
CEL heterogeneous equality, so ``sets.contains([1], [1.0, 1u])`` is true. cel-go declares
``(list(T), list(T))``; without type parameters both lists are ``list(dyn)`` here, so two
lists of different static element types compile (cel-go would reject some of them).
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.library import CelLibrary
from webhook.cel.library.equality import contains

T = cel.Type
_LIST = T.List(T.DYN)


def sets_contains(items: list[Any], sublist: list[Any]) -> bool:
    """Every element of ``sublist`` is in ``items``."""
    return all(contains(items, item) for item in sublist)


def sets_equivalent(left: list[Any], right: list[Any]) -> bool:
    """Each list contains the other; duplicates and order do not matter."""
    return sets_contains(left, right) and sets_contains(right, left)


def sets_intersects(left: list[Any], right: list[Any]) -> bool:
    """Some element of ``left`` is in ``right``."""
    return any(contains(right, item) for item in left)


def _function(name: str, overload_id: str, impl: Any) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, [cel.Overload(overload_id, T.BOOL, [_LIST, _LIST], impl=impl)])


# Not "sets"/"cel.lib.ext.sets": cel-expr-python swaps in cel-cpp's native sets extension
# for those names, whose map equality differs from cel-go's ({1: 'a'} vs {1u: 'a'}).
LIBRARY = CelLibrary(
    name="celgate.sets",
    functions=(
        _function("sets.contains", "list_sets_contains_list", sets_contains),
        _function("sets.equivalent", "list_sets_equivalent_list", sets_equivalent),
        _function("sets.intersects", "list_sets_intersects_list", sets_intersects),
    ),
)
