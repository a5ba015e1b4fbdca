"""CEL equality and ordering over the plain Python values cel-cpp hands to library functions.

Python's ``==`` is not CEL's: ``True == 1`` holds in Python but not in CEL, and ``b'a'``
arrives as a ``bytearray``. cel-go uses heterogeneous equality (``1 == 1.0 == 1u``,
values of different kinds are simply unequal, never an error) and orders only values of
the same kind, numbers across int/uint/double (common/types/*.go ``Equal``/``Compare``).
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from webhook.cel.errors import CelFunctionError

# cel-go: types.NoSuchOverloadErr()
NO_SUCH_OVERLOAD = "no such overload"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cel_equal(left: Any, right: Any) -> bool:
    """CEL's ``==`` (heterogeneous equality)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) or _is_number(right):
        return _is_number(left) and _is_number(right) and left == right
    if isinstance(left, (bytes, bytearray)) or isinstance(right, (bytes, bytearray)):
        return isinstance(left, (bytes, bytearray)) and isinstance(right, (bytes, bytearray)) and bytes(left) == bytes(right)
    if isinstance(left, list) or isinstance(right, list):
        return (
            isinstance(left, list)
            and isinstance(right, list)
            and len(left) == len(right)
            and all(cel_equal(a, b) for a, b in zip(left, right))
        )
    if isinstance(left, dict) or isinstance(right, dict):
        return isinstance(left, dict) and isinstance(right, dict) and _maps_equal(left, right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _maps_equal(left: dict[Any, Any], right: dict[Any, Any]) -> bool:
    if len(left) != len(right):
        return False
    for key, value in left.items():
        match = next((k for k in right if cel_equal(k, key)), _MISSING)
        if match is _MISSING or not cel_equal(value, right[match]):
            return False
    return True


_MISSING = object()


def contains(items: list[Any], value: Any) -> bool:
    """cel-go's ``Lister.Contains``: some element equals ``value``."""
    return any(cel_equal(item, value) for item in items)


_ORDERED_KINDS: tuple[tuple[type, ...], ...] = (
    (str,),
    (bytes, bytearray),
    (datetime.timedelta,),
    (datetime.datetime,),
)


def is_comparable(value: Any) -> bool:
    """Whether cel-go's value implements ``traits.Comparer``."""
    return isinstance(value, (bool, int, float, str, bytes, bytearray, datetime.timedelta, datetime.datetime))


def compare(left: Any, right: Any) -> int | None:
    """cel-go's ``left.Compare(right)``: -1, 0 or 1, or None where cel-go returns an error."""
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            return (left > right) - (left < right)
        return None
    if _is_number(left) and _is_number(right):
        if (isinstance(left, float) and math.isnan(left)) or (isinstance(right, float) and math.isnan(right)):
            return None  # "NaN values cannot be ordered"
        return (left > right) - (left < right)
    for kinds in _ORDERED_KINDS:
        if isinstance(left, kinds) and isinstance(right, kinds):
            a, b = (bytes(left), bytes(right)) if kinds[0] is bytes else (left, right)
            return (a > b) - (a < b)
    return None


def require_comparable(value: Any) -> None:
    if not is_comparable(value):
        raise CelFunctionError(NO_SUCH_OVERLOAD)
