"""Errors raised by the CEL layer, worded the way kube-apiserver (cel-go) words them."""

from __future__ import annotations


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
