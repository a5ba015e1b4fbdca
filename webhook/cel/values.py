"""Conversion between JSON-shaped Python data and CEL values.

Kubernetes hands CEL unstructured JSON: integers are int64, every other number a double
(encoding/json + UnstructuredToVal). cel-expr-python maps a Python ``int`` above int64 to
``uint``, which cel-go never produces from JSON, so such numbers become doubles here.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from webhook.cel.types import OpaqueType, lookup_opaque

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


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
        return from_cel(value.value())
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
        return from_cel(value.value())
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
