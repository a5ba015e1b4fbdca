"""The checked CEL AST, decoded from cel-cpp's serialized expression into frozen dataclasses.

``cel.Expression.serialize()`` returns a ``google.protobuf.Any`` holding a
``cel.expr.CheckedExpr`` (or a ``cel.expr.ParsedExpr`` for ``disable_check=True`` compiles).
No Python bindings for the cel.expr protos ship with cel-expr-python, so this module declares
the part of the schema it reads (field numbers from cel-spec's ``proto/cel/expr/syntax.proto``
and ``checked.proto``) in a private descriptor pool and lets the protobuf runtime parse. The
validators and the cost model walk the result; the policy layer asks it which ``variables.X``
an expression uses.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterator, Union

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import message as message_module

from webhook.cel.errors import CelError


class CelAstDecodeError(CelError):
    """cel-cpp handed back bytes that are not a CheckedExpr/ParsedExpr this module understands."""


# ---------------------------------------------------------------------------------------------
# Types


@dataclass(frozen=True)
class CelType:
    """A checked type: ``kind`` is one of dyn, int, uint, double, bool, string, bytes, null,
    list, map, message, optional, type, error, duration, timestamp, any, wrapper, param,
    function, abstract; ``params`` are element/key/value/wrapped types, ``name`` a message,
    type-parameter or abstract type name."""

    kind: str
    params: tuple["CelType", ...] = ()
    name: str = ""

    def __str__(self) -> str:
        # cel-go's FormatCelType spelling, used in validator messages.
        kind, params = self.kind, self.params
        if kind in ("message", "param"):
            return self.name
        if kind == "abstract":
            inner = ", ".join(str(p) for p in params)
            return f"{self.name}({inner})" if params else self.name
        if kind == "null":
            return "null_type"
        if kind == "error":
            return "*error*"
        if kind == "duration":
            return "google.protobuf.Duration"
        if kind == "timestamp":
            return "google.protobuf.Timestamp"
        if kind == "any":
            return "google.protobuf.Any"
        if kind == "optional":
            return f"optional_type({params[0]})"
        if params:
            return f"{kind}({', '.join(str(p) for p in params)})"
        return kind


DYN = CelType("dyn")


# ---------------------------------------------------------------------------------------------
# Expression nodes. ``offset`` is the code point offset in the source (-1 when unknown).


@dataclass(frozen=True)
class Const:
    id: int
    offset: int
    type: CelType
    kind: str  # null, bool, int, uint, double, string, bytes, duration, timestamp
    value: object


@dataclass(frozen=True)
class Ident:
    id: int
    offset: int
    type: CelType
    name: str


@dataclass(frozen=True)
class Select:
    id: int
    offset: int
    type: CelType
    operand: "Expr"
    field: str
    test_only: bool


@dataclass(frozen=True)
class Call:
    id: int
    offset: int
    type: CelType
    target: "Expr | None"
    function: str
    args: tuple["Expr", ...]
    overload_ids: tuple[str, ...]


@dataclass(frozen=True)
class CreateList:
    id: int
    offset: int
    type: CelType
    elements: tuple["Expr", ...]
    optional_indices: frozenset[int]


@dataclass(frozen=True)
class MapEntry:
    id: int
    offset: int
    key: "Expr"
    value: "Expr"
    optional: bool


@dataclass(frozen=True)
class CreateMap:
    id: int
    offset: int
    type: CelType
    entries: tuple[MapEntry, ...]


@dataclass(frozen=True)
class FieldEntry:
    id: int
    offset: int
    field: str
    value: "Expr"
    optional: bool


@dataclass(frozen=True)
class CreateStruct:
    id: int
    offset: int
    type: CelType
    message_name: str
    entries: tuple[FieldEntry, ...]


@dataclass(frozen=True)
class Comprehension:
    id: int
    offset: int
    type: CelType
    iter_var: str
    iter_var2: str
    iter_range: "Expr"
    accu_var: str
    accu_init: "Expr"
    loop_condition: "Expr"
    loop_step: "Expr"
    result: "Expr"


Expr = Union[Const, Ident, Select, Call, CreateList, CreateMap, CreateStruct, Comprehension]


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node`` in source order."""
    if isinstance(node, Select):
        return (node.operand,)
    if isinstance(node, Call):
        return ((node.target,) if node.target is not None else ()) + node.args
    if isinstance(node, CreateList):
        return node.elements
    if isinstance(node, CreateMap):
        return tuple(part for entry in node.entries for part in (entry.key, entry.value))
    if isinstance(node, CreateStruct):
        return tuple(entry.value for entry in node.entries)
    if isinstance(node, Comprehension):
        return (node.iter_range, node.accu_init, node.loop_condition, node.loop_step, node.result)
    return ()


def walk(node: Expr) -> Iterator[Expr]:
    """``node`` and every node below it, pre-order."""
    stack: list[Expr] = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


@dataclass(frozen=True, eq=False)
class CheckedAst:
    """A decoded expression. Identity-hashed so caches (the cost plan) can key on it cheaply."""

    expression: str
    expr: Expr
    checked: bool

    def walk(self) -> Iterator[Expr]:
        """Every node, pre-order."""
        return walk(self.expr)

    def location(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based column) of a code point offset, as cel-go reports it."""
        if offset < 0:
            return (-1, -1)
        before = self.expression[:offset]
        line_start = before.rfind("\n") + 1
        return (before.count("\n") + 1, offset - line_start)

    def selected_fields(self, ident: str) -> set[str]:
        """Names ``X`` of every ``<ident>.X`` (also ``has(<ident>.X)`` and ``<ident>['X']``)
        where ``ident`` is the free variable, not a comprehension variable shadowing it."""
        found: set[str] = set()
        prefix = ident + "."
        stack: list[tuple[Expr, bool]] = [(self.expr, False)]
        while stack:
            node, shadowed = stack.pop()
            if not shadowed:
                if isinstance(node, Select) and isinstance(node.operand, Ident) and node.operand.name == ident:
                    found.add(node.field)
                elif isinstance(node, Ident) and node.name.startswith(prefix):
                    # the checker folds a select chain into one qualified identifier when it resolves
                    found.add(node.name[len(prefix):].split(".", 1)[0])
                elif (
                    isinstance(node, Call) and node.function == "_[_]" and len(node.args) == 2
                    and isinstance(node.args[0], Ident) and node.args[0].name == ident
                    and isinstance(node.args[1], Const) and node.args[1].kind == "string"
                ):
                    found.add(str(node.args[1].value))
            if isinstance(node, Comprehension):
                binds = ident in (node.iter_var, node.iter_var2, node.accu_var)
                stack.append((node.iter_range, shadowed))
                stack.append((node.accu_init, shadowed))
                inner = shadowed or binds
                for part in (node.loop_condition, node.loop_step, node.result):
                    stack.append((part, inner))
            else:
                stack.extend((child, shadowed) for child in children(node))
        return found


# ---------------------------------------------------------------------------------------------
# Decoding: a private copy of the cel.expr schema (field numbers and wire types from cel-spec;
# well-known-type fields declared by their wire shape) parsed by the protobuf runtime.

_T = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"string": _T.TYPE_STRING, "bytes": _T.TYPE_BYTES, "bool": _T.TYPE_BOOL, "int64": _T.TYPE_INT64,
            "uint64": _T.TYPE_UINT64, "int32": _T.TYPE_INT32, "double": _T.TYPE_DOUBLE}

# message -> [(field name, number, type, repeated, oneof)]; a type that is not a scalar is a message.
_SCHEMA: dict[str, list[tuple[str, int, str, bool, str]]] = {
    "Empty": [],
    "Time": [("seconds", 1, "int64", False, ""), ("nanos", 2, "int32", False, "")],
    "ParsedExpr": [("expr", 2, "Expr", False, ""), ("source_info", 3, "SourceInfo", False, "")],
    "CheckedExpr": [
        ("reference_map", 2, "ReferenceEntry", True, ""), ("type_map", 3, "TypeEntry", True, ""),
        ("expr", 4, "Expr", False, ""), ("source_info", 5, "SourceInfo", False, ""),
    ],
    "ReferenceEntry": [("key", 1, "int64", False, ""), ("value", 2, "Reference", False, "")],
    "TypeEntry": [("key", 1, "int64", False, ""), ("value", 2, "Type", False, "")],
    "PositionEntry": [("key", 1, "int64", False, ""), ("value", 2, "int32", False, "")],
    "Reference": [("name", 1, "string", False, ""), ("overload_id", 3, "string", True, "")],
    "SourceInfo": [("positions", 4, "PositionEntry", True, "")],
    "Expr": [
        ("id", 2, "int64", False, ""), ("const_expr", 3, "Constant", False, "kind"),
        ("ident_expr", 4, "Ident", False, "kind"), ("select_expr", 5, "Select", False, "kind"),
        ("call_expr", 6, "CallExpr", False, "kind"), ("list_expr", 7, "ListExpr", False, "kind"),
        ("struct_expr", 8, "StructExpr", False, "kind"), ("comprehension_expr", 9, "Loop", False, "kind"),
    ],
    "Ident": [("name", 1, "string", False, "")],
    "Select": [("operand", 1, "Expr", False, ""), ("field", 2, "string", False, ""), ("test_only", 3, "bool", False, "")],
    "CallExpr": [("target", 1, "Expr", False, ""), ("function", 2, "string", False, ""), ("args", 3, "Expr", True, "")],
    "ListExpr": [("elements", 1, "Expr", True, ""), ("optional_indices", 2, "int32", True, "")],
    "StructExpr": [("message_name", 1, "string", False, ""), ("entries", 2, "Entry", True, "")],
    "Entry": [
        ("id", 1, "int64", False, ""), ("field_key", 2, "string", False, "key"), ("map_key", 3, "Expr", False, "key"),
        ("value", 4, "Expr", False, ""), ("optional_entry", 5, "bool", False, ""),
    ],
    "Loop": [
        ("iter_var", 1, "string", False, ""), ("iter_range", 2, "Expr", False, ""), ("accu_var", 3, "string", False, ""),
        ("accu_init", 4, "Expr", False, ""), ("loop_condition", 5, "Expr", False, ""), ("loop_step", 6, "Expr", False, ""),
        ("result", 7, "Expr", False, ""), ("iter_var2", 8, "string", False, ""),
    ],
    "Constant": [
        ("null_value", 1, "int32", False, "kind"), ("bool_value", 2, "bool", False, "kind"),
        ("int64_value", 3, "int64", False, "kind"), ("uint64_value", 4, "uint64", False, "kind"),
        ("double_value", 5, "double", False, "kind"), ("string_value", 6, "string", False, "kind"),
        ("bytes_value", 7, "bytes", False, "kind"), ("duration_value", 8, "Time", False, "kind"),
        ("timestamp_value", 9, "Time", False, "kind"),
    ],
    "Type": [
        ("dyn", 1, "Empty", False, "kind"), ("null", 2, "int32", False, "kind"), ("primitive", 3, "int32", False, "kind"),
        ("wrapper", 4, "int32", False, "kind"), ("well_known", 5, "int32", False, "kind"),
        ("list_type", 6, "ListType", False, "kind"), ("map_type", 7, "MapType", False, "kind"),
        ("function", 8, "FunctionType", False, "kind"), ("message_type", 9, "string", False, "kind"),
        ("type_param", 10, "string", False, "kind"), ("type", 11, "Type", False, "kind"),
        ("error", 12, "Empty", False, "kind"), ("abstract_type", 14, "AbstractType", False, "kind"),
    ],
    "ListType": [("elem_type", 1, "Type", False, "")],
    "MapType": [("key_type", 1, "Type", False, ""), ("value_type", 2, "Type", False, "")],
    "FunctionType": [("result_type", 1, "Type", False, ""), ("arg_types", 2, "Type", True, "")],
    "AbstractType": [("name", 1, "string", False, ""), ("parameter_types", 2, "Type", True, "")],
}


def _build_messages() -> dict[str, type]:
    file_proto = descriptor_pb2.FileDescriptorProto(name="celgate/cel_expr_wire.proto", package="celgate.wire", syntax="proto3")
    for name, fields in _SCHEMA.items():
        message = file_proto.message_type.add(name=name)
        oneofs: list[str] = []
        for field_name, number, kind, repeated, oneof in fields:
            field = message.field.add(name=field_name, number=number)
            field.label = _T.LABEL_REPEATED if repeated else _T.LABEL_OPTIONAL
            if kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type, field.type_name = _T.TYPE_MESSAGE, f".celgate.wire.{kind}"
            if oneof:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    message.oneof_decl.add(name=oneof)
                field.oneof_index = oneofs.index(oneof)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"celgate.wire.{name}")) for name in _SCHEMA}


_MESSAGES = _build_messages()
_CHECKED_URL = "type.googleapis.com/cel.expr.CheckedExpr"
_PARSED_URL = "type.googleapis.com/cel.expr.ParsedExpr"
_PRIMITIVES = {1: "bool", 2: "int", 3: "uint", 4: "double", 5: "string", 6: "bytes"}
_WELL_KNOWN = {1: "any", 2: "timestamp", 3: "duration"}
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_PRIMITIVE_TYPES = {number: CelType(name) for number, name in _PRIMITIVES.items()}


def _type(message) -> CelType:
    kind = message.WhichOneof("kind")
    if kind in (None, "dyn"):
        return DYN
    if kind == "primitive":
        return _PRIMITIVE_TYPES.get(message.primitive, DYN)
    if kind == "list_type":
        return CelType("list", (_type(message.list_type.elem_type),))
    if kind == "map_type":
        return CelType("map", (_type(message.map_type.key_type), _type(message.map_type.value_type)))
    if kind == "message_type":
        return CelType("message", name=message.message_type)
    if kind == "abstract_type":
        name, params = message.abstract_type.name, tuple(_type(p) for p in message.abstract_type.parameter_types)
        return CelType("optional", params) if name == "optional_type" and len(params) == 1 else CelType("abstract", params, name)
    if kind == "null":
        return CelType("null")
    if kind == "error":
        return CelType("error")
    if kind == "well_known":
        return CelType(_WELL_KNOWN.get(message.well_known, "dyn"))
    if kind == "wrapper":
        return CelType("wrapper", (CelType(_PRIMITIVES.get(message.wrapper, "dyn")),))
    if kind == "type":
        return CelType("type", (_type(message.type),))
    if kind == "type_param":
        return CelType("param", name=message.type_param)
    function = message.function
    return CelType("function", (_type(function.result_type),) + tuple(_type(a) for a in function.arg_types))


def _constant(message) -> tuple[str, object]:
    kind = message.WhichOneof("kind")
    if kind in (None, "null_value"):
        return "null", None
    if kind in ("duration_value", "timestamp_value"):
        time = getattr(message, kind)
        delta = datetime.timedelta(seconds=time.seconds, microseconds=time.nanos // 1000)
        return (kind[:-6], delta) if kind == "duration_value" else (kind[:-6], _EPOCH + delta)
    return _CONSTANT_KINDS[kind], getattr(message, kind)


_CONSTANT_KINDS = {"bool_value": "bool", "int64_value": "int", "uint64_value": "uint", "double_value": "double",
                   "string_value": "string", "bytes_value": "bytes"}


class _Decoder:
    def __init__(self, positions: dict[int, int], types: dict[int, CelType], overloads: dict[int, tuple[str, ...]]):
        self.positions, self.types, self.overloads = positions, types, overloads

    def expr(self, message) -> Expr:
        node_id = message.id
        base = (node_id, self.positions.get(node_id, -1), self.types.get(node_id, DYN))
        kind = message.WhichOneof("kind")
        if kind == "ident_expr":
            return Ident(*base, message.ident_expr.name)
        if kind == "select_expr":
            s = message.select_expr
            return Select(*base, self.expr(s.operand), s.field, s.test_only)
        if kind == "call_expr":
            c = message.call_expr
            target = self.expr(c.target) if c.HasField("target") else None
            return Call(*base, target, c.function, tuple(self.expr(a) for a in c.args), self.overloads.get(node_id, ()))
        if kind == "const_expr":
            return Const(*base, *_constant(message.const_expr))
        if kind == "list_expr":
            lst = message.list_expr
            return CreateList(*base, tuple(self.expr(e) for e in lst.elements), frozenset(lst.optional_indices))
        if kind == "struct_expr":
            return self.struct(base, message.struct_expr)
        if kind == "comprehension_expr":
            c = message.comprehension_expr
            return Comprehension(
                *base, c.iter_var, c.iter_var2, self.expr(c.iter_range), c.accu_var, self.expr(c.accu_init),
                self.expr(c.loop_condition), self.expr(c.loop_step), self.expr(c.result),
            )
        # An unset expr_kind only appears for an absent optional sub-expression.
        return Const(*base, "null", None)

    def struct(self, base: tuple, s) -> Expr:
        if s.message_name:
            entries = tuple(
                FieldEntry(e.id, self.positions.get(e.id, -1), e.field_key, self.expr(e.value), e.optional_entry)
                for e in s.entries
            )
            return CreateStruct(*base, s.message_name, entries)
        return CreateMap(*base, tuple(
            MapEntry(e.id, self.positions.get(e.id, -1), self.expr(e.map_key), self.expr(e.value), e.optional_entry)
            for e in s.entries
        ))


def decode_checked(serialized: bytes, expression: str) -> CheckedAst:
    """Decode ``cel.Expression.serialize()`` output for ``expression``."""
    try:
        envelope = any_pb2.Any.FromString(serialized)
        if envelope.type_url not in (_CHECKED_URL, _PARSED_URL):
            raise CelAstDecodeError(f"unexpected message type {envelope.type_url!r}")
        checked = envelope.type_url == _CHECKED_URL
        body = _MESSAGES["CheckedExpr" if checked else "ParsedExpr"].FromString(envelope.value)
    except message_module.DecodeError as exc:
        raise CelAstDecodeError(f"cannot decode the compiled form of {expression!r}: {exc}") from None
    except CelAstDecodeError as exc:
        raise CelAstDecodeError(f"cannot decode the compiled form of {expression!r}: {exc}") from None
    positions = {entry.key: entry.value for entry in body.source_info.positions}
    types: dict[int, CelType] = {}
    overloads: dict[int, tuple[str, ...]] = {}
    if checked:
        types = {entry.key: _type(entry.value) for entry in body.type_map}
        overloads = {entry.key: tuple(entry.value.overload_id) for entry in body.reference_map if entry.value.overload_id}
    return CheckedAst(expression, _Decoder(positions, types, overloads).expr(body.expr), checked)
