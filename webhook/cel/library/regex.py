"""Kubernetes regex library: ``find``, ``findAll``, ``findAll(n)``.

Source: k8s.io/apiserver/pkg/cel/library/regex.go. Go's regexp is RE2, so patterns are
compiled with google-re2; RE2's C++ parser words its errors differently from Go's
regexp/syntax, so webhook/cel/go_regexp.py rewrites them (``error parsing regexp:
unexpected ): `)```). Matching in ``findAll`` follows Go's FindAllString, which (unlike
Python's ``finditer``) drops an empty match that abuts the previous match.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.go_regexp import RegexSyntaxError, compile_pattern
from webhook.cel.library import CelLibrary

T = cel.Type

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
