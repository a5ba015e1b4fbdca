"""Kubernetes format library: ``format.<name>()``, ``format.named(name)``, ``<Format>.validate(s)``.

Source: k8s.io/apiserver/pkg/cel/library/format.go (v1.35). A format value is the opaque
``kubernetes.NamedFormat`` holding the format's CEL name, so two formats are equal exactly
when they are the same format.

cel-go returns optionals from ``format.named`` (``?Format``) and ``validate``
(``?list(string)``). cel-expr-python cannot produce optional values from Python, nor declare
an optional result type, so both return ``dyn``: the format / the error list when cel-go
returns ``optional.of(...)``, an empty list for ``optional.none()``. The optional accessors
``hasValue()`` and ``value()`` (and the ``optMap``/``optFlatMap`` macros built on them) get
implementations for those values, so the documented usage (``validate(x).hasValue()``,
``.value().join(...)``) behaves as in cel-go. Known differences: comparing the result with
``optional.none()`` / ``optional.of(...)`` is always false, and ``or``/``orValue`` (which
cel-cpp evaluates natively, for true optionals only) fail with "no matching overloads".
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.dispatch import UNREACHABLE, UNREACHABLE_LIST
from webhook.cel.library.named_formats import NAMED_FORMATS
from webhook.cel.types import OpaqueType, opaque_type

T = cel.Type

NAMED_FORMAT = opaque_type("kubernetes.NamedFormat", lambda name: f"format.{name}()")


def format_named(name: str) -> Any:
    """The format called ``name``, or [] (cel-go: optional.none())."""
    return NAMED_FORMAT.wrap(name) if name in NAMED_FORMATS else []


def format_validate(named_format: Any, value: str) -> list[str]:
    """The validation errors of ``value``, [] when it is valid (cel-go: optional.none())."""
    name = OpaqueType.unwrap(named_format)
    validator = NAMED_FORMATS.get(name)
    if validator is None:
        raise CelFunctionError(f"unknown format {name!r}")
    return validator(value)


def _constant(name: str) -> cel.FunctionDecl:
    qualified = f"format.{name}"
    return cel.FunctionDecl(
        qualified, [cel.Overload(qualified, NAMED_FORMAT.cel_type, [], impl=lambda: NAMED_FORMAT.wrap(name))]
    )


def _value(result: Any) -> Any:
    if isinstance(result, list) and not result:
        raise CelFunctionError("optional.none() dereference")
    return result


def _has_value(result: Any) -> bool:
    return not (isinstance(result, list) and not result)


# Runtime implementations of the optional accessors for this library's dyn results. Their
# receiver types (a private message, a list of it) give them the runtime kinds of those
# results (message, list) without matching any receiver the checker would otherwise accept.
def _optional_accessors() -> tuple[cel.FunctionDecl, ...]:
    receivers = (("message", UNREACHABLE), ("list", UNREACHABLE_LIST))
    return (
        cel.FunctionDecl(
            "hasValue",
            [cel.Overload(f"celgate_{k}_has_value", T.BOOL, [r], is_member=True, impl=_has_value) for k, r in receivers],
        ),
        cel.FunctionDecl(
            "value",
            [cel.Overload(f"celgate_{k}_value", T.DYN, [r], is_member=True, impl=_value) for k, r in receivers],
        ),
    )


LIBRARY = CelLibrary(
    name="kubernetes.format",
    functions=(
        *(_constant(name) for name in NAMED_FORMATS),
        cel.FunctionDecl("format.named", [cel.Overload("format-named", T.DYN, [T.STRING], impl=format_named)]),
        cel.FunctionDecl(
            "validate",
            [
                cel.Overload(
                    "format-validate", T.DYN, [NAMED_FORMAT.cel_type, T.STRING], is_member=True, impl=format_validate
                )
            ],
        ),
        *_optional_accessors(),
    ),
)
