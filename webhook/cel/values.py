"""Conversion between JSON-shaped Python data and CEL values.

Kubernetes hands CEL unstructured JSON: integers are int64, every other number a double
(encoding/json + UnstructuredToVal). cel-expr-python maps a Python ``int`` above int64 to
``uint``, which cel-go never produces from JSON, so such numbers become doubles here.
"""

from __future__ import annotations

import base64
import ctypes
import datetime
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from webhook.cel.types import OpaqueType, lookup_opaque

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


# cel-expr-python 0.1.3 hands out ``None`` for a CEL null without taking a reference to it: each
# null that reaches Python (a result, an element of one, a callback's argument) costs None one
# reference when it is dropped, and on Python 3.11, where None is not immortal, the process
# aborts ("Fatal Python error: none_dealloc") once they are spent, a few thousand requests into a
# policy that yields null. Every conversion out of cel-expr-python goes through the two
# functions below, which give the reference back.
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def restore_none_references(value: Any) -> Any:
    """``value`` (fresh from cel-expr-python), after taking the reference each None in it lacks."""
    if value is None:
        _incref(None)
        return value
    if type(value) is list or type(value) is dict:
        missing = 0
        stack = [value]
        while stack:
            item = stack.pop()
            kind = type(item)
            if kind is dict:
                for entry in item.values():
                    if entry is None:
                        missing += 1
                    elif type(entry) is list or type(entry) is dict:
                        stack.append(entry)
            elif kind is list:
                for entry in item:
                    if entry is None:
                        missing += 1
                    elif type(entry) is list or type(entry) is dict:
                        stack.append(entry)
        for _ in range(missing):
            _incref(None)
    return value


def plain(value: cel.Value) -> Any:
    """``value.plain_value()``, None references restored."""
    return restore_none_references(value.plain_value())


def raw(value: Any) -> Any:
    """``value.value()`` of a cel.Value (or of a list or map item accessor), None references restored."""
    result = value.value()
    if result is None:
        _incref(None)
    return result


def to_cel(value: Any) -> Any:
    """JSON-shaped Python data (dict/list/str/int/float/bool/None) as cel-expr-python input."""
    if isinstance(value, dict):
        return {key: to_cel(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_cel(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return float(value)
    return value


@dataclass(frozen=True)
class Survey:
    """What one walk over JSON-shaped data tells: the two size classes of the uniform cost bound
    (the largest string, list or map anywhere; the largest list or map) and whether the data
    can go to cel-expr-python as it is (no integer beyond int64, no tuple), sparing to_cel's copy."""

    largest: int
    collection: int
    as_is: bool


def survey(value: Any) -> Survey:
    largest, collection, as_is = 1, 1, True
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            if len(item) > collection:
                collection = len(item)
            if item:
                try:
                    longest_key = max(map(len, item))
                except TypeError:  # a key without a length (an int): what JSON cannot hold
                    found = survey_other(item)
                    largest, collection = max(largest, found.largest), max(collection, found.collection)
                    as_is = False
                    continue
                if longest_key > largest:
                    largest = longest_key
            entries = item.values()
        elif kind is list:
            if len(item) > collection:
                collection = len(item)
            entries = item
        else:
            found = survey_other(item)
            largest, collection = max(largest, found.largest), max(collection, found.collection)
            as_is = False
            continue
        for entry in entries:  # scalars here, not pushed: most of a Pod's values are strings
            kind = type(entry)
            if kind is str:
                if len(entry) > largest:
                    largest = len(entry)
            elif kind is dict or kind is list:
                push(entry)
            elif kind is int:
                if not INT64_MIN <= entry <= INT64_MAX:
                    as_is = False
            elif kind is bool or kind is float or entry is None:
                pass
            else:
                found = survey_other(entry)
                largest, collection = max(largest, found.largest), max(collection, found.collection)
                as_is = False
    return Survey(max(largest, collection), collection, as_is)


def survey_other(value: Any) -> Survey:
    """The survey of what JSON does not hold (tuples, bytes, other mappings and sequences,
    ints of other types): never as is."""
    largest = collection = 1
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            largest = max(largest, len(item))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
            largest, collection = max(largest, len(item)), max(collection, len(item))
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
            largest, collection = max(largest, len(item)), max(collection, len(item))
    return Survey(largest, collection, False)


@dataclass(frozen=True)
class CelTypeValue:
    """A CEL ``type`` value (the result of ``type(x)``); prints as its name."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class OpaqueValue:
    """A value of a Kubernetes opaque type (Quantity, IP, ...) handed back to Python."""

    type_name: str
    canonical: str
    text: str

    def __str__(self) -> str:
        return self.text


_TYPE_NAMES = {
    "INT": "int",
    "UINT": "uint",
    "DOUBLE": "double",
    "BOOL": "bool",
    "STRING": "string",
    "BYTES": "bytes",
    "NULL": "null_type",
    "DURATION": "google.protobuf.Duration",
    "TIMESTAMP": "google.protobuf.Timestamp",
    "TYPE": "type",
}


def type_name(cel_type: cel.Type) -> str:
    """cel-go's name for a type (``int``, ``list``, ``map``, ``kubernetes.Quantity``)."""
    name = cel_type.name()
    if name in _TYPE_NAMES:
        return _TYPE_NAMES[name]
    if name.startswith("LIST"):
        return "list"
    if name.startswith("MAP"):
        return "map"
    return name


def from_cel(value: Any) -> Any:
    """A Python value handed back by cel-expr-python, made plain (opaque types wrapped)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (datetime.datetime, datetime.timedelta)):
        return value
    if isinstance(value, cel.Type):
        return CelTypeValue(type_name(value))
    if isinstance(value, cel.Value):
        return from_cel(raw(value))
    if isinstance(value, dict):
        return {from_cel(key): from_cel(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [from_cel(item) for item in value]
    opaque: OpaqueType | None = lookup_opaque(value)
    if opaque is not None:
        canonical = OpaqueType.unwrap(value)
        return OpaqueValue(opaque.name, canonical, opaque.to_string(canonical))
    # Item accessors of nested lists and maps.
    if hasattr(value, "value") and callable(value.value):
        return from_cel(raw(value))
    raise TypeError(f"cannot convert CEL value of Python type {type(value).__name__}")


def to_json(value: Any) -> Any:
    """A plain value (from :func:`from_cel`) as JSON data; what JSON cannot hold becomes a string.

    Durations and timestamps are rendered by the caller (``celgate eval`` prints them as cel-go's
    ``string()`` does, with webhook/cel/string_format.py)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(to_json(key)) if not isinstance(key, str) else key: to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return str(value)
