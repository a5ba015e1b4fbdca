"""``string.format()`` as cel-go's strings extension (version 2, locale en_US) implements it.

cel-cpp's ``format`` prints lists, maps, doubles and infinities differently, accepts ``%d`` on
doubles and words its errors differently; kube-apiserver users see cel-go's output, so the
formatter is reimplemented here; format_validation.py runs the same clause loop at compile time
over literal arguments. Source: cel-go v0.26.0 ``ext/formatting.go`` (the version-1 formatter,
which StringsVersion(2) uses) and its ``formatting_test.go`` expectations.
"""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any, Callable

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.values import type_name

_DEFAULT_PRECISION = 6
STRING_CLAUSE_TYPES = (
    "strings, bools, bytes, ints, doubles, maps, lists, types, durations, and timestamps"
)
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def cel_type_name(value: Any) -> str:
    """cel-go's TypeName() of a value handed to a Python implementation (uint reads as int)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if value is None:
        return "null_type"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime.timedelta):
        return "google.protobuf.Duration"
    if isinstance(value, datetime.datetime):
        return "google.protobuf.Timestamp"
    if isinstance(value, cel.Type):
        return "type"
    descriptor = getattr(value, "DESCRIPTOR", None)
    return descriptor.full_name if descriptor is not None else type(value).__name__


def go_quote(text: str) -> str:
    """Go's strconv.Quote (what ``%q`` prints)."""
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_float_g(value: float) -> str:
    """Go's ``fmt.Sprintf("%g", f)``: shortest digits, exponent form below 1e-4 and from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)
    exp = point - 1
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def to_cel_string(value: Any) -> str:
    """``string(value)`` in cel-go, for the types ``%s`` accepts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float_g(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise CelFunctionError("invalid UTF-8 in bytes, cannot convert to string") from None
    if isinstance(value, datetime.timedelta):
        seconds = decimal.Decimal(value // datetime.timedelta(microseconds=1)).scaleb(-6)
        return f"{seconds.normalize():f}s"
    if isinstance(value, datetime.datetime):
        return _rfc3339_nano(value)
    if isinstance(value, cel.Type):
        return type_name(value)
    raise CelFunctionError(f"could not convert argument {value!r} to string")


def _rfc3339_nano(value: datetime.datetime) -> str:
    utc = value.astimezone(datetime.timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _format_string(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return _format_list(value)
    if isinstance(value, dict):
        return _format_map(value)
    if value is None:
        return "null"
    if cel_type_name(value) in ("int", "double", "bool", "string", "bytes", "type",
                                "google.protobuf.Duration", "google.protobuf.Timestamp"):
        return to_cel_string(value)
    raise CelFunctionError(
        f"string clause can only be used on {STRING_CLAUSE_TYPES}, was given {cel_type_name(value)}"
    )


def _format_decimal(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise CelFunctionError(f"decimal clause can only be used on integers, was given {cel_type_name(value)}")


def _as_double(value: Any, clause: str) -> float:
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, float):
        return value
    raise CelFunctionError(f"{clause} clause can only be used on doubles, was given {cel_type_name(value)}")


def _nonfinite(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return None


def _fixed(precision: int | None) -> Callable[[Any], str]:
    def clause(value: Any) -> str:
        number = _as_double(value, "fixed-point")
        special = _nonfinite(number)
        if special is not None:
            return special
        # golang.org/x/text/message with en_US groups the integer part with commas, and
        # prints a zero without its sign (-0.04 rounded to one digit keeps it: "-0.0").
        return f"{number or 0.0:,.{_DEFAULT_PRECISION if precision is None else precision}f}"

    return clause


def _scientific(value: Any) -> str:
    number = _as_double(value, "scientific")
    special = _nonfinite(number)
    if special is not None:
        return special.rjust(6)  # x/text pads them to six runes for %e (not for %f): "    -∞"
    # x/text ignores the precision of %e (cel-go: "%.2e" of 0.001 is 1.000000×10⁻⁰³), and
    # prints a zero without its sign, as for %f.
    mantissa, _, exponent = f"{number or 0.0:.{_DEFAULT_PRECISION}e}".partition("e")
    exp = int(exponent)
    exp_text = ("-" if exp < 0 else "") + f"{abs(exp):02d}"
    # x/text (v0.39.0, kube-apiserver 1.35) writes "×10" and superscript digits; see
    # apiextensions-apiserver pkg/apiserver/schema/cel/validation_test.go: '3.140000×10⁰⁰'.
    return f"{mantissa}×10{exp_text.translate(_SUPERSCRIPT)}"


def _binary(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return format(value, "b")
    raise CelFunctionError(f"only integers and bools can be formatted as binary, was given {cel_type_name(value)}")


def _hex(upper: bool) -> Callable[[Any], str]:
    def clause(value: Any) -> str:
        if isinstance(value, str):
            text = value.encode("utf-8").hex()
        elif isinstance(value, (bytes, bytearray)):
            text = bytes(value).hex()
        elif isinstance(value, int) and not isinstance(value, bool):
            text = format(value, "x")
        else:
            raise CelFunctionError(
                "only integers, byte buffers, and strings can be formatted as hex, "
                f"was given {cel_type_name(value)}"
            )
        return text.upper() if upper else text

    return clause


def _octal(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return format(value, "o")
    raise CelFunctionError(f"octal clause can only be used on integers, was given {cel_type_name(value)}")


def _literal_clause(value: Any) -> Callable[[Any], str]:
    """How a list element or map value prints (cel-go clauseForType): as a CEL literal."""
    name = cel_type_name(value)
    if name == "int":
        return _format_decimal
    if name in ("string", "bytes", "bool", "null_type", "type"):
        return _format_string
    if name == "google.protobuf.Timestamp":
        return lambda v: f"timestamp({go_quote(to_cel_string(v))})"
    if name == "google.protobuf.Duration":
        return lambda v: f"duration({go_quote(to_cel_string(v))})"
    if name == "list":
        return _format_list
    if name == "map":
        return _format_map
    if name == "double":
        return lambda v: go_float_g(v) if not math.isfinite(v) else f"{v:.{_DEFAULT_PRECISION}f}"
    raise CelFunctionError(f"no formatting function for {name}")


def _quote_for_cel(value: Any, text: str) -> str:
    if isinstance(value, str):
        return go_quote(text)
    if isinstance(value, (bytes, bytearray)):
        return "b" + go_quote(text)
    if isinstance(value, float) and not math.isfinite(value):
        return go_quote(text)
    return text


def _format_list(values: Any) -> str:
    return "[" + ", ".join(_quote_for_cel(v, _literal_clause(v)(v)) for v in values) + "]"


def _format_map(values: dict[Any, Any]) -> str:
    pairs = []
    for key, value in values.items():
        if isinstance(key, (str, bool)):
            key_text = _format_string(key)
        elif isinstance(key, int):
            key_text = _format_decimal(key)
        else:
            raise CelFunctionError(f"no formatting function for map key of type {cel_type_name(key)}")
        pairs.append((_quote_for_cel(key, key_text), _quote_for_cel(value, _literal_clause(value)(value))))
    pairs.sort(key=lambda pair: pair[0])
    return "{" + ", ".join(f"{k}:{v}" for k, v in pairs) + "}"


def _parse_clause(spec: str) -> tuple[int, str, int | None]:
    """Read one clause after '%': characters consumed, the verb and the precision."""
    i = 0
    precision: int | None = None
    if spec[0] == ".":
        i = 1
        digits = ""
        while True:
            if i >= len(spec):
                raise CelFunctionError(
                    "could not parse formatting clause: error while parsing precision: "
                    "could not find end of precision specifier"
                )
            if not ("0" <= spec[i] <= "9"):
                break
            digits += spec[i]
            i += 1
        if not digits:
            raise CelFunctionError(
                "could not parse formatting clause: error while parsing precision: error while "
                'converting precision to integer: strconv.Atoi: parsing "": invalid syntax'
            )
        precision = int(digits)
    verb = spec[i]
    if verb not in _VERBS:
        raise CelFunctionError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')
    return i + 1, verb, precision


_VERBS = "sdfebxXo"


def _runtime_clause(verb: str, precision: int | None) -> Callable[[Any], str]:
    clauses: dict[str, Callable[[Any], str]] = {
        "s": _format_string, "d": _format_decimal, "f": _fixed(precision), "e": _scientific,
        "b": _binary, "x": _hex(False), "X": _hex(True), "o": _octal,
    }
    return clauses[verb]


class FormattingError(CelFunctionError):
    """A clause rejected its argument; ``offset`` locates the argument for compile-time reports."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


# apply(verb, precision, argument index) -> the clause's text
Apply = Callable[[str, "int | None", int], str]


def interpret(template: str, arg_count: int, apply: Apply, *, checking: bool) -> tuple[str, int]:
    """cel-go's parseFormatString loop; returns the text and how many arguments it used.

    ``checking`` follows the compile-time validator, whose argument lookup never fails, so an
    unterminated clause is reported before a missing argument.
    """
    out: list[str] = []
    i = 0
    arg_index = 0
    while i < len(template):
        char = template[i]
        if char != "%":
            out.append(char)
            i += 1
            continue
        if i + 1 < len(template) and template[i + 1] == "%":
            out.append("%")
            i += 2
            continue
        if not checking and arg_index >= arg_count:
            raise CelFunctionError(f"index {arg_index} out of range")
        if i + 1 >= len(template):
            raise CelFunctionError("unexpected end of string")
        if arg_index >= arg_count:
            raise CelFunctionError(f"index {arg_index} out of range")
        consumed, verb, precision = _parse_clause(template[i + 1:])
        try:
            out.append(apply(verb, precision, arg_index))
        except CelFunctionError as exc:
            raise FormattingError(f"error during formatting: {exc}", getattr(exc, "offset", None)) from None
        i += 1 + consumed
        arg_index += 1
    return "".join(out), arg_index


def format_string(template: str, args: list[Any]) -> str:
    """``template.format(args)`` with cel-go's output and error texts."""
    text, _ = interpret(
        template, len(args), lambda verb, precision, index: _runtime_clause(verb, precision)(args[index]),
        checking=False,
    )
    return text
