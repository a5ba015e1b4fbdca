"""Kubernetes regex library: ``find``, ``findAll``, ``findAll(n)``.

Source: k8s.io/apiserver/pkg/cel/library/regex.go. Go's regexp is RE2, so patterns are
compiled with google-re2; RE2's C++ parser words its errors differently from Go's
regexp/syntax, so :func:`go_regexp_error` rewrites them (``error parsing regexp:
unexpected ): `)```). Matching in ``findAll`` follows Go's FindAllString, which (unlike
Python's ``finditer``) drops an empty match that abuts the previous match.
"""

from __future__ import annotations

import functools
from typing import Any

import re2
from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary

T = cel.Type

# RE2 C++ error code text -> Go regexp/syntax ErrorCode text.
_GO_ERROR_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid repetition size": "invalid repeat count",
    "invalid named capture group": "invalid named capture",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid UTF-8": "invalid UTF-8",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
    "bad named capture group": "invalid named capture",
}

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class RegexSyntaxError(ValueError):
    """A pattern Go's regexp would not compile; ``str()`` is Go's error text."""


def go_regexp_error(re2_message: str) -> str:
    """``error parsing regexp: <code>: `<expr>``` as Go's regexp.Compile prints it."""
    if re2_message.startswith("trailing \\"):
        return "error parsing regexp: trailing backslash at end of expression: ``"
    code, _, expr = re2_message.partition(": ")
    return f"error parsing regexp: {_GO_ERROR_CODES.get(code, code)}: `{expr}`"


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern; raises RegexSyntaxError with Go's message."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else str(exc)
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise RegexSyntaxError(go_regexp_error(message)) from None


def regex_literal_error(pattern: str) -> str | None:
    """Go's compile error for a constant pattern, or None.

    kube-apiserver compiles constant ``find``/``findAll`` patterns when it builds the
    program (FindRegexOptimization), so a bad literal fails at policy creation:
    ``program instantiation failed: <this text>``. For validators.py.
    """
    try:
        compile_pattern(pattern)
    except RegexSyntaxError as exc:
        return str(exc)
    return None


def _compiled(pattern: str) -> Any:
    try:
        return compile_pattern(pattern)
    except RegexSyntaxError as exc:
        raise CelFunctionError(f"Illegal regex: {exc}") from None


def find(text: str, pattern: str) -> str:
    match = _compiled(pattern).search(text)
    return match.group(0) if match else ""


def find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    """Go's ``regexp.FindAllString(text, limit)``."""
    regexp = _compiled(pattern)
    if limit < 0:
        limit = len(text) + 1
    results: list[str] = []
    position, previous_end = 0, -1
    while len(results) < limit and position <= len(text):
        match = regexp.search(text, position)
        if match is None:
            break
        start, end = match.span()
        accept = True
        if end == start:
            # Go ignores an empty match right after the previous match, then steps one rune.
            accept = start != previous_end
            position = end + 1
        else:
            position = end
        previous_end = end
        if accept:
            results.append(match.group(0))
    return results


LIBRARY = CelLibrary(
    name="kubernetes.regex",
    functions=(
        cel.FunctionDecl(
            "find",
            [cel.Overload("string_find_string", T.STRING, [T.STRING, T.STRING], is_member=True, impl=find)],
        ),
        cel.FunctionDecl(
            "findAll",
            [
                cel.Overload(
                    "string_find_all_string", T.List(T.STRING), [T.STRING, T.STRING], is_member=True,
                    impl=lambda text, pattern: find_all(text, pattern),
                ),
                cel.Overload(
                    "string_find_all_string_int", T.List(T.STRING), [T.STRING, T.STRING, T.INT], is_member=True,
                    impl=find_all,
                ),
            ],
        ),
    ),
)
