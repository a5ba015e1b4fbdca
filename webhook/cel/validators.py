"""Compile-time checks kube-apiserver makes that cel-cpp's checker does not.

kube-apiserver (environment/base.go, 1.29+) adds cel-go's AST validators
(cel/validator.go): ValidateHomogeneousAggregateLiterals, ValidateDurationLiterals,
ValidateTimestampLiterals and ValidateRegexLiterals; the Kubernetes regex library compiles
literal ``find``/``findAll`` patterns when the program is built, so a bad one fails to compile
("program instantiation failed: ..."). celgate also hides the private field of its opaque
message types (types.py): selecting it or constructing such a message is the compile error
cel-go gives for an opaque type. Messages and positions follow cel-go's. An expression compiled
unchecked (cross-type numeric comparisons, see environment.py) has no types, so only the literal
argument checks apply to it.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Iterator


from webhook.cel.ast import (
    Call, CelType, CheckedAst, Const, CreateList, CreateMap, CreateStruct, Expr, Select, children,
)
from webhook.cel.errors import CelCompileError, error_text
from webhook.cel.format_validation import format_call_issues
from webhook.cel.go_regexp import regex_literal_error
from webhook.cel.types import OPAQUE_TYPE_NAMES


@dataclass(frozen=True)
class _Issue:
    offset: int
    message: str


def validate_ast(ast: CheckedAst, expression: str) -> None:
    """Raise CelCompileError listing every issue, formatted as cel-go prints them."""
    issues: list[_Issue] = []
    unsupported: str | None = None
    for node, in_format in _walk_with_format_context(ast.expr):
        if isinstance(node, Call) and node.function == "cel.@mapInsert":
            unsupported = _MAP_INSERT_MESSAGE
        issues.extend(_literal_argument_issues(node))
        issues.extend(_opaque_issues(node, expression))
        if ast.checked and not in_format:
            issues.extend(_homogeneity_issues(node))
    # cel-go's strings extension validates literal format() calls (ext/formatting.go).
    issues.extend(_Issue(offset, message) for offset, message in format_call_issues(ast))
    program_error = _find_regex_error(ast) or unsupported
    if issues:
        raise CelCompileError(expression, _render(ast, issues))
    if program_error:
        # k8s admission/plugin/cel/compile.go wraps env.Program errors this way.
        raise CelCompileError(expression, f"program instantiation failed: {program_error}")


# transformMap/transformMapEntry expand to cel.@mapInsert, which cel-expr-python's runtime lacks
# (cel-cpp fails when planning the program); see compat.py.
_MAP_INSERT_MESSAGE = (
    "transformMap and transformMapEntry are not supported by celgate's CEL engine "
    "(cel-expr-python has no cel.@mapInsert); use transformList or map instead"
)


def _walk_with_format_context(root: Expr) -> Iterator[tuple[Expr, bool]]:
    """Every node, and whether it sits anywhere below a format() call: cel-go skips literals
    with such an ancestor when it checks homogeneity (cel/validator.go inExemptFunction)."""
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        node, in_format = stack.pop()
        yield node, in_format
        inherited = in_format or (isinstance(node, Call) and node.function == "format")
        stack.extend((child, inherited) for child in reversed(children(node)))


# --- ValidateHomogeneousAggregateLiterals ----------------------------------------------------


def _homogeneity_issues(node: Expr) -> list[_Issue]:
    issues: list[_Issue] = []
    if isinstance(node, CreateList):
        first: CelType | None = None
        for index, element in enumerate(node.elements):
            element_type = _unwrap_optional(element.type, index in node.optional_indices)
            if first is None:
                first = element_type
            elif element_type != first:
                issues.append(_mismatch(element, first, element_type))
                break
    elif isinstance(node, CreateMap) and node.entries:
        key_type = node.entries[0].key.type
        value_type = _unwrap_optional(node.entries[0].value.type, node.entries[0].optional)
        for entry in node.entries[1:]:
            if entry.key.type != key_type:
                issues.append(_mismatch(entry.key, key_type, entry.key.type))
            actual = _unwrap_optional(entry.value.type, entry.optional)
            if actual != value_type:
                issues.append(_mismatch(entry.value, value_type, actual))
    return issues


def _unwrap_optional(cel_type: CelType, optional: bool) -> CelType:
    if optional and cel_type.kind == "optional" and cel_type.params:
        return cel_type.params[0]
    return cel_type


def _mismatch(node: Expr, expected: CelType, actual: CelType) -> _Issue:
    return _Issue(node.offset, f"expected type '{expected}' but found '{actual}'")


# --- ValidateDurationLiterals / ValidateTimestampLiterals / ValidateRegexLiterals --------------


def _literal_argument_issues(node: Expr) -> list[_Issue]:
    # cel-go checks argument 0 of every call named duration/timestamp/matches when it is a
    # literal; for the global matches(s, re) form that is the string, not the pattern.
    if not isinstance(node, Call) or not node.args or not isinstance(node.args[0], Const):
        return []
    check = _LITERAL_CHECKS.get(node.function)
    literal = node.args[0]
    if check is None or check(literal):
        return []
    return [_Issue(literal.offset, f"invalid {node.function} argument")]


_DURATION_UNITS_NS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def go_duration_is_valid(text: str) -> bool:
    """Whether Go's time.ParseDuration accepts ``text`` (what cel-go's duration() uses)."""
    rest = text[1:] if text[:1] in "+-" else text
    if rest == "0":
        return True
    if not rest:
        return False
    total = 0
    while rest:
        match = _DURATION_PART.match(rest)
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not fraction or unit not in _DURATION_UNITS_NS:
            return False
        scale = _DURATION_UNITS_NS[unit]
        total += int(whole or "0") * scale + (int(fraction) * scale // 10 ** len(fraction) if fraction else 0)
        rest = rest[match.end():]
    limit = 2**63 if text.startswith("-") else 2**63 - 1
    return total <= limit


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|([+-])(\d{2}):(\d{2}))\Z"
)


def go_timestamp_is_valid(text: str) -> bool:
    """Whether cel-go's timestamp() accepts ``text``: RFC 3339, years 0001..9999 in UTC."""
    match = _RFC3339.match(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        local = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    offset = datetime.timedelta()
    if match.group(8) != "Z":
        off_h, off_m = int(match.group(10)), int(match.group(11))
        if off_h > 23 or off_m > 59:
            return False
        offset = datetime.timedelta(hours=off_h, minutes=off_m) * (1 if match.group(9) == "+" else -1)
    try:
        utc = local - offset
    except OverflowError:
        return False
    return datetime.datetime(1, 1, 1) <= utc <= datetime.datetime(9999, 12, 31, 23, 59, 59)


def _const_text(check):
    def checked(literal: Const) -> bool:
        # A literal of another type fails type-checking before; let cel-cpp report it.
        return literal.kind != "string" or check(str(literal.value))
    return checked


_LITERAL_CHECKS = {
    "duration": _const_text(go_duration_is_valid),
    "timestamp": _const_text(go_timestamp_is_valid),
    "matches": _const_text(lambda pattern: regex_literal_error(pattern) is None),
}


def _find_regex_error(ast: CheckedAst) -> str | None:
    for node in ast.walk():
        if (
            isinstance(node, Call) and node.function in ("find", "findAll") and node.target is not None
            and node.args and isinstance(node.args[0], Const) and node.args[0].kind == "string"
        ):
            error = regex_literal_error(str(node.args[0].value))
            if error:
                return error
    return None


# --- celgate's opaque message types --------------------------------------------------------


def _opaque_issues(node: Expr, expression: str) -> list[_Issue]:
    if isinstance(node, Select) and _is_opaque(node.operand.type):
        return [_Issue(node.offset, f"type '{node.operand.type.name}' does not support field selection")]
    if isinstance(node, Call) and node.function == "_?._" and node.args and _is_opaque(node.args[0].type):
        return [_Issue(node.offset, f"type '{node.args[0].type.name}' does not support field selection")]
    name = node.message_name.lstrip(".") if isinstance(node, CreateStruct) else ""
    if name in OPAQUE_TYPE_NAMES:
        # cel-go positions a message literal at its '{'; cel-cpp at the type name.
        brace = expression.find("{", node.offset)
        return [_Issue(brace if brace >= 0 else node.offset, f"'{name}' is not a message type")]
    return []


def _is_opaque(cel_type: CelType) -> bool:
    return cel_type.kind == "message" and cel_type.name in OPAQUE_TYPE_NAMES


# --- rendering ---------------------------------------------------------------------------------


def _render(ast: CheckedAst, issues: list[_Issue]) -> str:
    """cel-go's Errors.ToDisplayString: sorted by position, each with its source line and caret."""
    located = sorted(((ast.location(i.offset), i.message) for i in issues), key=lambda item: item[0])
    lines = ast.expression.split("\n")
    return "\n".join(error_text(ast.expression, line, column + 1, message, lines) for (line, column), message in located)
