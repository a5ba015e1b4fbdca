"""Compile-time checks of literal ``'...'.format([...])`` calls, as cel-go's strings extension
makes them (stringFormatValidator, ext/formatting.go v0.26.0): a clause whose literal argument
has the wrong checked type, a bad clause, a missing or a surplus argument is a compile error in
kube-apiserver, reported at the argument (or the call) with the runtime formatter's wording.
"""

from __future__ import annotations

from webhook.cel.ast import Call, CelType, CheckedAst, Const, CreateList, CreateMap, Expr
from webhook.cel.errors import CelFunctionError
from webhook.cel.string_format import STRING_CLAUSE_TYPES, FormattingError, interpret

_CLAUSE_KINDS = {
    "d": ("int", "uint"), "f": ("double", "string"), "e": ("double", "string"),
    "b": ("int", "uint", "bool"), "x": ("int", "uint", "string", "bytes"),
    "X": ("int", "uint", "string", "bytes"), "o": ("int", "uint"),
}
_STRING_KINDS = ("list", "map", "int", "uint", "double", "bool", "string", "timestamp", "bytes",
                 "duration", "type", "null")
_CLAUSE_ERRORS = {
    "d": "decimal clause can only be used on integers",
    "f": "fixed-point clause can only be used on doubles",
    "e": "scientific clause can only be used on doubles",
    "b": "only integers and bools can be formatted as binary",
    "x": "only integers, byte buffers, and strings can be formatted as hex",
    "X": "only integers, byte buffers, and strings can be formatted as hex",
    "o": "octal clause can only be used on integers",
    "s": f"string clause can only be used on {STRING_CLAUSE_TYPES}",
}
_GO_TYPE_NAMES = {
    "null": "null_type", "duration": "google.protobuf.Duration", "timestamp": "google.protobuf.Timestamp",
    "optional": "optional_type",
}


def _go_type_name(cel_type: CelType) -> str:
    if cel_type.kind in ("message", "abstract"):
        return cel_type.name
    return _GO_TYPE_NAMES.get(cel_type.kind, cel_type.kind)


def _unsuitable(verb: str, node: Expr) -> Expr | None:
    """The (nested) argument a clause cannot format, judged by checked types as cel-go does."""
    kinds = _STRING_KINDS if verb == "s" else _CLAUSE_KINDS[verb]
    if node.type.kind != "dyn" and node.type.kind not in kinds:
        return node
    if verb == "s" and isinstance(node, CreateList):
        return next((bad for e in node.elements if (bad := _unsuitable("s", e)) is not None), None)
    if verb == "s" and isinstance(node, CreateMap):
        parts = [part for entry in node.entries for part in (entry.key, entry.value)]
        return next((bad for p in parts if (bad := _unsuitable("s", p)) is not None), None)
    return None


def format_call_issues(ast: CheckedAst) -> list[tuple[int, str]]:
    """(offset, message) for every literal ``'...'.format([...])`` cel-go rejects when compiling."""
    issues: list[tuple[int, str]] = []
    for node in ast.walk():
        if not (isinstance(node, Call) and node.function == "format" and node.target is not None
                and isinstance(node.target, Const) and node.target.kind == "string"
                and len(node.args) == 1 and isinstance(node.args[0], CreateList)):
            continue
        if node.overload_ids and "string_format" not in node.overload_ids:
            continue
        elements = node.args[0].elements

        def check(verb: str, precision: int | None, index: int, elements: tuple[Expr, ...] = elements) -> str:
            bad = _unsuitable(verb, elements[index])
            if bad is not None:
                raise FormattingError(f"{_CLAUSE_ERRORS[verb]}, was given {_go_type_name(bad.type)}", bad.offset)
            return ""

        try:
            _, used = interpret(str(node.target.value), len(elements), check, checking=True)
        except FormattingError as exc:
            issues.append((node.offset if exc.offset is None else exc.offset, str(exc)))
            continue
        except CelFunctionError as exc:
            issues.append((node.offset, str(exc)))
            continue
        if len(elements) > used:
            issues.append((node.offset, f"too many arguments supplied to string.format (expected {used}, got {len(elements)})"))
    return issues
