"""Regular expressions as Go compiles them: RE2 patterns, Go's error texts.

cel-go and the Kubernetes regex library use Go's regexp (RE2); celgate compiles with google-re2
(and cel-cpp's ``matches`` with RE2 C++), whose parser words its errors differently from Go's
regexp/syntax. One table maps RE2's error codes to Go's, for every place that reports a pattern
error: compile-time literal checks, the regex library, and cel-cpp's runtime errors.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

# RE2 (C++) error code text -> Go regexp/syntax ErrorCode text.
_GO_ERROR_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "no argument for repetition operator": "missing argument to repetition operator",
    "missing argument to repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid repetition size": "invalid repeat count",
    "invalid named capture group": "invalid named capture",
    "bad named capture group": "invalid named capture",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid UTF-8": "invalid UTF-8",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
    "bad nesting depth": "expression nests too deeply",
}

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class RegexSyntaxError(ValueError):
    """A pattern Go's regexp would not compile; ``str()`` is Go's error text."""


def go_regexp_error(re2_message: str) -> str:
    """RE2's ``<code>: <expr>`` as Go's regexp.Compile prints it: ``error parsing regexp: <code>: `<expr>```."""
    if re2_message.startswith("trailing \\"):
        return "error parsing regexp: trailing backslash at end of expression: ``"
    for code in sorted(_GO_ERROR_CODES, key=len, reverse=True):  # "invalid character class range" first
        if re2_message == code or re2_message.startswith(code + ": "):
            return f"error parsing regexp: {_GO_ERROR_CODES[code]}: `{re2_message[len(code) + 2:]}`"
    code, _, expr = re2_message.partition(": ")
    return f"error parsing regexp: {code}: `{expr}`"


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
    """Go's compile error for a pattern, or None if it compiles."""
    try:
        compile_pattern(pattern)
    except RegexSyntaxError as exc:
        return str(exc)
    return None
