"""Kubernetes quantity library: ``quantity('1.5Gi')``, ``isQuantity``, arithmetic, conversions.

Source: k8s.io/apiserver/pkg/cel/library/quantity.go (v1.35; no mul/div yet). The numbers
live in quantity_value.py. ``isGreaterThan``/``isLessThan``/``compareTo`` are declared in
ordering.py, because Semver declares the same names and cel-cpp dispatches both alike.

A ``kubernetes.Quantity`` value holds the quantity's exact value in DecimalExponent canonical
form (``1500e-3``), so CEL ``==`` is cel-go's ``Quantity.Equal`` (``quantity('1Gi') ==
quantity('1024Mi')``). What that form cannot keep is apimachinery's internal representation,
which cel-go exposes in two places: ``isInteger()``/``asInteger()`` answer by value here (cel-go
refuses integral values it stores with a fraction, such as ``1000m`` or ``1.5Gi``), and
``asApproximateFloat()`` may differ in the last bit for such values.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.quantity_value import (
    Quantity,
    QuantityError,
    canonical_string,
    from_int,
    is_quantity,
    parse_quantity,
)
from webhook.cel.types import OpaqueType, opaque_type

T = cel.Type


def display(canonical: str) -> str:
    """How celgate prints a quantity value: the shorter of its BinarySI and DecimalSI forms.

    The value does not remember the format it was written in, so ``1Gi`` prints as ``1Gi``
    but so does ``1073741824``.
    """
    value = parse_quantity(canonical)
    suffixed = -9 <= value.exponent - value.exponent % 3 <= 18  # n .. E
    decimal = canonical_string(value, "DecimalSI" if suffixed else "DecimalExponent")
    if not 0 <= value.exponent <= 19:
        return decimal
    binary = canonical_string(value, "BinarySI")
    return binary if len(binary) < len(decimal) else decimal


QUANTITY = opaque_type("kubernetes.Quantity", display)


def to_cel(value: Quantity) -> Any:
    return QUANTITY.wrap(canonical_string(value, "DecimalExponent"))


def from_message(message: Any) -> Quantity:
    return parse_quantity(OpaqueType.unwrap(message))


def _quantity(text: str) -> Any:
    try:
        return to_cel(parse_quantity(text))
    except QuantityError as exc:
        raise CelFunctionError(str(exc)) from None


def _combine(operation: str, left: Quantity, right: Quantity) -> Any:
    try:
        result = left.add(right) if operation == "add" else left.sub(right)
    except QuantityError as exc:
        raise CelFunctionError(str(exc)) from None
    return to_cel(result)


def _as_integer(message: Any) -> int:
    value = from_message(message).as_int64()
    if value is None:
        raise CelFunctionError("cannot convert value to integer")
    return value


def compare(left: Any, right: Any) -> int:
    """Quantity.Cmp of two quantity messages (used by ordering.py)."""
    return from_message(left).compare(from_message(right))


def _member(overload_id: str, params: list[cel.Type], result: cel.Type, impl: Any) -> cel.Overload:
    return cel.Overload(overload_id, result, params, is_member=True, impl=impl)


_Q = QUANTITY.cel_type

LIBRARY = CelLibrary(
    name="kubernetes.quantity",
    functions=(
        cel.FunctionDecl("quantity", [cel.Overload("string_to_quantity", _Q, [T.STRING], impl=_quantity)]),
        cel.FunctionDecl("isQuantity", [cel.Overload("is_quantity_string", T.BOOL, [T.STRING], impl=is_quantity)]),
        cel.FunctionDecl(
            "sign", [cel.Overload("quantity_sign", T.INT, [_Q], impl=lambda q: from_message(q).sign())]
        ),
        cel.FunctionDecl(
            "asApproximateFloat",
            [_member("quantity_get_float", [_Q], T.DOUBLE, lambda q: from_message(q).as_approximate_float())],
        ),
        cel.FunctionDecl("asInteger", [_member("quantity_get_int", [_Q], T.INT, _as_integer)]),
        cel.FunctionDecl(
            "isInteger",
            [_member("quantity_is_integer", [_Q], T.BOOL, lambda q: from_message(q).as_int64() is not None)],
        ),
        cel.FunctionDecl(
            "add",
            [
                _member("quantity_add", [_Q, _Q], _Q, lambda a, b: _combine("add", from_message(a), from_message(b))),
                _member("quantity_add_int", [_Q, T.INT], _Q, lambda a, n: _combine("add", from_message(a), from_int(n))),
            ],
        ),
        cel.FunctionDecl(
            "sub",
            [
                _member("quantity_sub", [_Q, _Q], _Q, lambda a, b: _combine("sub", from_message(a), from_message(b))),
                _member("quantity_sub_int", [_Q, T.INT], _Q, lambda a, n: _combine("sub", from_message(a), from_int(n))),
            ],
        ),
    ),
)
