"""Errors raised by the CEL layer, worded the way kube-apiserver (cel-go) words them."""

from __future__ import annotations

from typing import Sequence


class CelError(Exception):
    """Base class of every error the CEL layer raises."""


class CelCompileError(CelError):
    """An expression did not parse or type-check.

    ``message`` is cel-go's text (``ERROR: <input>:1:5: ...`` with the caret line), so a
    user sees the same thing the API server would show on create.
    """

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(message)
        self.expression = expression
        self.message = message


class CelEvaluationError(CelError):
    """An expression failed at run time (no such key, no such overload, overflow, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CelCostError(CelEvaluationError):
    """An evaluation went over a cost limit.

    ``per_call`` tells the per-expression limit (cel-go's ``actual cost limit exceeded``)
    from the per-evaluation budget shared by all expressions of a binding.
    """

    def __init__(self, message: str, *, per_call: bool) -> None:
        super().__init__(message)
        self.per_call = per_call


class CelFunctionError(Exception):
    """Raised by a library function implementation; its text becomes the CEL error."""


def position_of(source: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a code point offset, as cel-go prints positions."""
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def error_text(source: str, line: int, column: int, message: str, lines: Sequence[str] | None = None) -> str:
    """One compile error as cel-go's Error.ToDisplayString prints it: ``ERROR: <input>:line:column:
    message``, then the source line (tabs as spaces) and a caret under the 1-based ``column``,
    a character wider than one byte in UTF-8 under a wide dot (or caret); no snippet when
    ``line`` is not a line of ``source`` (an unknown location is line -1, column 0).

    ``lines`` is ``source.split("\n")``, for a caller that renders many errors of one source.
    """
    head = f"ERROR: <input>:{line}:{column}: {message}"
    lines = lines if lines is not None else source.split("\n")
    if not 0 < line <= len(lines):
        return head
    snippet = lines[line - 1].replace("\t", " ")
    dots = "".join("\uff0e" if len(char.encode("utf-8")) > 1 else "." for char in snippet[: column - 1])
    at = snippet[column - 1 : column]
    caret = "\uff3e" if at and len(at.encode("utf-8")) > 1 else "^"
    return f"{head}\n | {snippet}\n | {dots}{caret}"
