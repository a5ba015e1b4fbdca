"""One Python implementation behind a family of typed overloads.

cel-go declares e.g. ``sum`` once per element type (``list_int_sum_int``,
``list_double_sum_double``, ...), so the checker rejects ``['a'].sum()`` and types
``[1, 2].sum()`` as ``int``. cel-cpp's runtime, however, dispatches Python functions by
argument *kind* (every ``list(T)`` is the kind LIST) and refuses a second implementation
with the same kinds (ALREADY_EXISTS). The typed overloads are therefore declared without
an implementation, and one extra overload carries the implementation for all of them:

* its parameters use a private message type that no expression can produce, so the
  checker never resolves a call to it unless every candidate matches (a ``dyn``
  receiver), exactly where cel-go's result type is ``dyn`` too;
* it returns ``dyn``, so the implementation may return any CEL value.

Such families must be passed to cel-cpp as environment functions bound by overload id
(``CelLibrary.declarations`` / ``implementations``): inside a ``CelExtension`` every
overload registers an implementation and the typed ones collide.

cel-cpp converts a ``dyn`` result from Python by Python type and rejects
``datetime``/``timedelta``; :func:`to_dyn_result` turns those into the protobuf well-known
types, which cel-cpp unwraps to CEL timestamps and durations.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, duration_pb2, timestamp_pb2

from webhook.cel.types import POOL

UNREACHABLE_TYPE_NAME = "celgate.internal.Unreachable"


def _register_unreachable_type() -> None:
    try:
        POOL.FindMessageTypeByName(UNREACHABLE_TYPE_NAME)
        return
    except KeyError:
        pass
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="celgate/internal/unreachable.proto", package="celgate.internal", syntax="proto3"
    )
    file_proto.message_type.add(name="Unreachable")
    POOL.Add(file_proto)


_register_unreachable_type()

UNREACHABLE = cel.Type(UNREACHABLE_TYPE_NAME)
UNREACHABLE_LIST = cel.Type.List(UNREACHABLE)


@dataclass(frozen=True)
class OverloadFamily:
    """Typed declarations plus the implementation, bound by id (CelLibrary.declarations)."""

    declaration: cel.FunctionDecl
    implementations: dict[str, Callable[..., Any]]


def overload_family(
    function: str,
    typed_overloads: Sequence[cel.Overload],
    hidden_parameters: Sequence[cel.Type],
    impl: Callable[..., Any],
    *,
    is_member: bool,
) -> OverloadFamily:
    """``typed_overloads`` (declared without implementation) all served by ``impl``.

    ``hidden_parameters`` must have the kinds of the typed overloads' parameters (use
    :data:`UNREACHABLE_LIST` for a list position, :data:`UNREACHABLE` for a scalar one).
    """
    hidden_id = f"celgate_impl_{function}"
    hidden = cel.Overload(hidden_id, cel.Type.DYN, list(hidden_parameters), is_member=is_member)
    return OverloadFamily(
        declaration=cel.FunctionDecl(function, [*typed_overloads, hidden]),
        implementations={hidden_id: lambda *args: to_dyn_result(impl(*args))},
    )


def to_dyn_result(value: Any) -> Any:
    """A Python result in a form cel-cpp accepts for a ``dyn``-typed return."""
    if isinstance(value, datetime.timedelta):
        message = duration_pb2.Duration()
        message.FromTimedelta(value)
        return message
    if isinstance(value, datetime.datetime):
        message = timestamp_pb2.Timestamp()
        message.FromDatetime(value)
        return message
    return value
