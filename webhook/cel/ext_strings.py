"""cel-go's strings extension at version 2 (what kube-apiserver enables), in Python.

cel-cpp ships the same functions but disagrees with cel-go where Kubernetes users can see it:
``'abc'.indexOf('a', 5)`` is ``-1`` in cel-go and an error in cel-cpp, range errors lose the
offending index (cel-go: ``index out of range: 30``), and ``format`` prints differently (see
string_format.py). So the VAP environment declares these functions itself, with cel-go's
overload ids so the cost model can key on them. Source: cel-go v0.26.0 ``ext/strings.go``.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.string_format import format_string

STRINGS_VERSION = 2

# Go's unicode.IsSpace (strings.TrimSpace); narrower than Python's str.isspace.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def _out_of_range(index: int) -> CelFunctionError:
    return CelFunctionError(f"index out of range: {index}")


def char_at(text: str, index: int) -> str:
    if index < 0 or index > len(text):
        raise _out_of_range(index)
    return text[index:index + 1]


def index_of(text: str, sub: str, offset: int = 0) -> int:
    if sub == "":
        return offset
    if offset < 0:
        raise _out_of_range(offset)
    if offset >= len(text):
        return -1
    return text.find(sub, offset)


def last_index_of(text: str, sub: str, offset: int | None = None) -> int:
    if offset is None:
        if sub == "":
            return len(text)
        # cel-go compares byte lengths here, before searching from the last rune.
        if len(text.encode("utf-8")) < len(sub.encode("utf-8")):
            return -1
        offset = len(text) - 1
    if sub == "":
        return offset
    if offset < 0:
        raise _out_of_range(offset)
    if offset >= len(text):
        return -1
    start = min(offset, len(text) - len(sub))
    if start < 0:
        return -1
    return text.rfind(sub, 0, start + len(sub))


def lower_ascii(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def upper_ascii(text: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in text)


def replace(text: str, old: str, new: str, count: int = -1) -> str:
    # Go's strings.Replace: a negative count replaces all, like Python's.
    return text.replace(old, new, count if count >= 0 else -1)


def split(text: str, separator: str, limit: int = -1) -> list[str]:
    """Go's strings.SplitN: 0 -> [], negative -> all, n -> at most n parts."""
    if limit == 0:
        return []
    if separator == "":
        parts = list(text)
        if 0 < limit < len(parts):
            parts = parts[:limit - 1] + ["".join(parts[limit - 1:])]
        return parts
    return text.split(separator, limit - 1 if limit > 0 else -1)


def substring(text: str, start: int, end: int | None = None) -> str:
    if end is None:
        if start < 0 or start > len(text):
            raise _out_of_range(start)
        return text[start:]
    if start > end:
        raise CelFunctionError(f"invalid substring range. start: {start}, end: {end}")
    if start < 0 or start > len(text):
        raise _out_of_range(start)
    if end < 0 or end > len(text):
        raise _out_of_range(end)
    return text[start:end]


def trim(text: str) -> str:
    return text.strip(_GO_SPACE)


def quote(text: str) -> str:
    return '"' + "".join(_QUOTE_ESCAPES.get(c, c) for c in text) + '"'


def join(items: list[Any], separator: str = "") -> str:
    # cel-go converts the list by its first element: a first non-string finds no overload.
    if items and not isinstance(items[0], str):
        raise CelFunctionError("no such overload: join(list)")
    for item in items:
        if not isinstance(item, str):
            raise CelFunctionError(f"join: invalid input: {item}")
    return separator.join(items)


def _member(overload_id: str, result: cel.Type, params: list[cel.Type], impl: Any) -> cel.Overload:
    return cel.Overload(overload_id, result, params, is_member=True, impl=impl)


_S, _I = cel.Type.STRING, cel.Type.INT
_STRING_LIST = cel.Type.List(cel.Type.STRING)

FUNCTIONS: tuple[cel.FunctionDecl, ...] = (
    cel.FunctionDecl("charAt", [_member("string_char_at_int", _S, [_S, _I], char_at)]),
    cel.FunctionDecl("indexOf", [
        _member("string_index_of_string", _I, [_S, _S], index_of),
        _member("string_index_of_string_int", _I, [_S, _S, _I], index_of),
    ]),
    cel.FunctionDecl("lastIndexOf", [
        _member("string_last_index_of_string", _I, [_S, _S], last_index_of),
        _member("string_last_index_of_string_int", _I, [_S, _S, _I], last_index_of),
    ]),
    cel.FunctionDecl("lowerAscii", [_member("string_lower_ascii", _S, [_S], lower_ascii)]),
    cel.FunctionDecl("replace", [
        _member("string_replace_string_string", _S, [_S, _S, _S], replace),
        _member("string_replace_string_string_int", _S, [_S, _S, _S, _I], replace),
    ]),
    cel.FunctionDecl("split", [
        _member("string_split_string", _STRING_LIST, [_S, _S], split),
        _member("string_split_string_int", _STRING_LIST, [_S, _S, _I], split),
    ]),
    cel.FunctionDecl("substring", [
        _member("string_substring_int", _S, [_S, _I], substring),
        _member("string_substring_int_int", _S, [_S, _I, _I], substring),
    ]),
    cel.FunctionDecl("trim", [_member("string_trim", _S, [_S], trim)]),
    cel.FunctionDecl("upperAscii", [_member("string_upper_ascii", _S, [_S], upper_ascii)]),
    cel.FunctionDecl("format", [
        _member("string_format", _S, [_S, cel.Type.List(cel.Type.DYN)], format_string),
    ]),
    cel.FunctionDecl("strings.quote", [cel.Overload("strings_quote", _S, [_S], impl=quote)]),
    cel.FunctionDecl("join", [
        _member("list_join", _S, [_STRING_LIST], join),
        _member("list_join_string", _S, [_STRING_LIST, _S], join),
    ]),
)


def extension() -> cel.CelExtension:
    """The strings library, version 2, as a cel-expr-python extension."""
    return cel.CelExtension("celgate.strings", list(FUNCTIONS))
