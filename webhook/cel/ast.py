"""The checked CEL AST, decoded from cel-cpp's serialized expression into frozen dataclasses.

``cel.Expression.serialize()`` returns a ``google.protobuf.Any`` holding a
``cel.expr.CheckedExpr`` (or a ``cel.expr.ParsedExpr`` for ``disable_check=True`` compiles).
No Python bindings for the cel.expr protos ship with cel-expr-python, so this module reads the
protobuf wire format directly; field numbers are those of cel-spec's
``proto/cel/expr/syntax.proto`` and ``checked.proto``. The validators and the cost model walk
the result; the policy layer asks it which ``variables.X`` an expression uses.
"""

from __future__ import annotations

import datetime
import struct
from dataclasses import dataclass
from typing import Iterator, Union

from webhook.cel.errors import CelError

_CHECKED_URL = "type.googleapis.com/cel.expr.CheckedExpr"
_PARSED_URL = "type.googleapis.com/cel.expr.ParsedExpr"


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
_PRIMITIVES = {1: "bool", 2: "int", 3: "uint", 4: "double", 5: "string", 6: "bytes"}
_WELL_KNOWN = {1: "any", 2: "timestamp", 3: "duration"}


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


@dataclass(frozen=True, eq=False)
class CheckedAst:
    """A decoded expression. Identity-hashed so caches (the cost plan) can key on it cheaply."""

    expression: str
    expr: Expr
    checked: bool

    def walk(self) -> Iterator[Expr]:
        """Every node, pre-order."""
        stack: list[Expr] = [self.expr]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(children(node)))

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
# Wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CelAstDecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CelAstDecodeError("varint too long")


def _fields(buf: bytes) -> dict[int, list]:
    """Field number -> raw values (ints for varints, bytes for everything else), in order."""
    out: dict[int, list] = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise CelAstDecodeError(f"unsupported wire type {wire}")
        if pos > end:
            raise CelAstDecodeError("truncated field")
        out.setdefault(number, []).append(value)
    return out


def _one(fields: dict[int, list], number: int, default=None):
    values = fields.get(number)
    return values[-1] if values else default


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8") if raw else ""


def _int_map(raw_entries: list[bytes]) -> dict[int, int]:
    out = {}
    for raw in raw_entries:
        entry = _fields(raw)
        out[_signed(_one(entry, 1, 0))] = _signed(_one(entry, 2, 0))
    return out


def _decode_type(raw: bytes) -> CelType:
    f = _fields(raw)
    if 1 in f:
        return DYN
    if 2 in f:
        return CelType("null")
    if 3 in f:
        return CelType(_PRIMITIVES.get(_one(f, 3), "dyn"))
    if 4 in f:
        return CelType("wrapper", (CelType(_PRIMITIVES.get(_one(f, 4), "dyn")),))
    if 5 in f:
        return CelType(_WELL_KNOWN.get(_one(f, 5), "dyn"))
    if 6 in f:
        elem = _one(_fields(_one(f, 6)), 1)
        return CelType("list", (_decode_type(elem) if elem is not None else DYN,))
    if 7 in f:
        m = _fields(_one(f, 7))
        return CelType("map", tuple(_decode_type(_one(m, n)) if n in m else DYN for n in (1, 2)))
    if 8 in f:
        fn = _fields(_one(f, 8))
        parts = [_decode_type(r) for r in fn.get(1, [])] + [_decode_type(r) for r in fn.get(2, [])]
        return CelType("function", tuple(parts))
    if 9 in f:
        return CelType("message", name=_text(_one(f, 9)))
    if 10 in f:
        return CelType("param", name=_text(_one(f, 10)))
    if 11 in f:
        return CelType("type", (_decode_type(_one(f, 11)),))
    if 12 in f:
        return CelType("error")
    if 14 in f:
        a = _fields(_one(f, 14))
        name, params = _text(_one(a, 1)), tuple(_decode_type(r) for r in a.get(2, []))
        if name == "optional_type" and len(params) == 1:
            return CelType("optional", params)
        return CelType("abstract", params, name)
    return DYN


def _decode_const(f: dict[int, list]) -> tuple[str, object]:
    if 1 in f:
        return "null", None
    if 2 in f:
        return "bool", bool(_one(f, 2))
    if 3 in f:
        return "int", _signed(_one(f, 3))
    if 4 in f:
        return "uint", _one(f, 4)
    if 5 in f:
        return "double", struct.unpack("<d", _one(f, 5))[0]
    if 6 in f:
        return "string", _text(_one(f, 6))
    if 7 in f:
        return "bytes", bytes(_one(f, 7))
    if 8 in f or 9 in f:
        # google.protobuf.Duration / Timestamp: seconds = 1, nanos = 2
        kind = "duration" if 8 in f else "timestamp"
        t = _fields(_one(f, 8 if kind == "duration" else 9))
        seconds, nanos = _signed(_one(t, 1, 0)), _signed(_one(t, 2, 0))
        delta = datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
        if kind == "duration":
            return kind, delta
        return kind, datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + delta
    return "null", None


class _Decoder:
    def __init__(self, positions: dict[int, int], types: dict[int, CelType], overloads: dict[int, tuple[str, ...]]):
        self.positions = positions
        self.types = types
        self.overloads = overloads

    def expr(self, raw: bytes) -> Expr:
        f = _fields(raw)
        node_id = _signed(_one(f, 2, 0))
        base = (node_id, self.positions.get(node_id, -1), self.types.get(node_id, DYN))
        if 3 in f:
            return Const(*base, *_decode_const(_fields(_one(f, 3))))
        if 4 in f:
            return Ident(*base, _text(_one(_fields(_one(f, 4)), 1)))
        if 5 in f:
            s = _fields(_one(f, 5))
            return Select(*base, self.expr(_one(s, 1, b"")), _text(_one(s, 2)), bool(_one(s, 3, 0)))
        if 6 in f:
            c = _fields(_one(f, 6))
            target = self.expr(_one(c, 1)) if 1 in c else None
            args = tuple(self.expr(a) for a in c.get(3, []))
            return Call(*base, target, _text(_one(c, 2)), args, self.overloads.get(node_id, ()))
        if 7 in f:
            lst = _fields(_one(f, 7))
            return CreateList(*base, tuple(self.expr(e) for e in lst.get(1, [])), frozenset(self._packed(lst.get(2, []))))
        if 8 in f:
            return self.struct(base, _fields(_one(f, 8)))
        if 9 in f:
            c = _fields(_one(f, 9))
            part = lambda n: self.expr(_one(c, n, b""))  # noqa: E731 - local shorthand
            return Comprehension(
                *base, _text(_one(c, 1)), _text(_one(c, 8)), part(2), _text(_one(c, 3)),
                part(4), part(5), part(6), part(7),
            )
        # An unset expr_kind only appears for an absent optional sub-expression.
        return Const(*base, "null", None)

    def struct(self, base: tuple, s: dict[int, list]) -> Expr:
        message_name = _text(_one(s, 1))
        map_entries: list[MapEntry] = []
        field_entries: list[FieldEntry] = []
        for raw in s.get(2, []):
            e = _fields(raw)
            entry_id = _signed(_one(e, 1, 0))
            offset = self.positions.get(entry_id, -1)
            value = self.expr(_one(e, 4, b""))
            optional = bool(_one(e, 5, 0))
            if 3 in e:
                map_entries.append(MapEntry(entry_id, offset, self.expr(_one(e, 3)), value, optional))
            else:
                field_entries.append(FieldEntry(entry_id, offset, _text(_one(e, 2)), value, optional))
        if message_name:
            return CreateStruct(*base, message_name, tuple(field_entries))
        return CreateMap(*base, tuple(map_entries))

    @staticmethod
    def _packed(values: list) -> Iterator[int]:
        for value in values:
            if isinstance(value, int):
                yield value
            else:  # packed repeated int32
                pos = 0
                while pos < len(value):
                    item, pos = _varint(value, pos)
                    yield _signed(item)


def decode_checked(serialized: bytes, expression: str) -> CheckedAst:
    """Decode ``cel.Expression.serialize()`` output for ``expression``."""
    try:
        envelope = _fields(serialized)
        type_url = _text(_one(envelope, 1))
        body = _fields(_one(envelope, 2, b""))
        if type_url == _CHECKED_URL:
            expr_field, info_field, checked = 4, 5, True
        elif type_url == _PARSED_URL:
            expr_field, info_field, checked = 2, 3, False
        else:
            raise CelAstDecodeError(f"unexpected message type {type_url!r}")
        info = _fields(_one(body, info_field, b""))
        positions = _int_map(info.get(4, []))
        types: dict[int, CelType] = {}
        overloads: dict[int, tuple[str, ...]] = {}
        if checked:
            for raw in body.get(3, []):
                entry = _fields(raw)
                types[_signed(_one(entry, 1, 0))] = _decode_type(_one(entry, 2, b""))
            for raw in body.get(2, []):
                entry = _fields(raw)
                reference = _fields(_one(entry, 2, b""))
                ids = tuple(_text(r) for r in reference.get(3, []))
                if ids:
                    overloads[_signed(_one(entry, 1, 0))] = ids
        root = _Decoder(positions, types, overloads).expr(_one(body, expr_field, b""))
    except (IndexError, UnicodeDecodeError, struct.error) as exc:
        raise CelAstDecodeError(f"cannot decode the compiled form of {expression!r}: {exc}") from None
    except CelAstDecodeError as exc:
        raise CelAstDecodeError(f"cannot decode the compiled form of {expression!r}: {exc}") from None
    return CheckedAst(expression, root, checked)
