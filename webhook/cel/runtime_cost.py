"""cel-go's runtime cost, exactly: the checked AST evaluated in Python with cel-go's cost tracker.

The cheap path (cost.py) bounds an expression's cost before cel-cpp runs it; the bound ignores
short-circuits, so it can exceed a limit that cel-go, which charges as the program actually
runs, never reaches. cel-cpp also stops any evaluation after 10,000 comprehension iterations,
which cel-go does not. When either would decide the outcome, the expression is evaluated here
instead: each node as cel-go's interpreter plans and observes it (interpreter/runtimecost.go),
with kube-apiserver's library costs (cost_functions.py, the formulas of
k8s.io/apiserver/pkg/cel/library/cost.go), so a limit is exceeded exactly when cel-go's tracker
would cancel the evaluation ("operation cancelled: actual cost limit exceeded").

What cel-go charges, in the terms of the checked AST:
  * a constant, and a list or map literal of constants (OptOptimize builds them once): 0;
  * an identifier or a select chain: 1, plus 1 per field or index qualifier; ``has()`` 1 more;
  * ``&&``, ``||``, ``?:`` and comprehensions themselves: 0 (their parts are charged as they run;
    a short-circuited operand costs nothing);
  * ``x in [constants]`` (OptOptimize's set membership): only ``x``;
  * a call: its library or standard cost for the actual argument sizes, after its arguments;
  * a list, map or message built at run time: 10, 30 or 40 plus its parts.

Where the count is not yet cel-go's (tests/oracle_diff/test_runtime_cost.py compares it with
cel-go's own tracker): the format library's ``validate`` (its cost comes from the formats'
patterns), ``sets.*``, ``containsIP``/``containsCIDR`` and a presence test on a conditional
(``has((c ? a : b).f)``) can differ by a few units; :data:`APPROXIMATE` names them. So can an
operator the checker left to run-time dispatch on ``dyn`` operands: cel-go charges some by the
overload that ran (``x in dyn``) and some at its default (``dyn + dyn`` on strings), which this
evaluator does not yet tell apart in every case (about 1% of generated expressions, by a unit).

Values: function calls run in cel-cpp itself (one small program per call shape, cached), so
every library function and error text is the fast path's; the interpreter owns only control
flow, comprehensions, presence tests, selection, optionals and type values. Anything it cannot
carry between calls (a uint inside a list, an optional from a dyn call) raises
:class:`Unsupported`, and the caller keeps its upper bound.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cel_expr_python import cel

from webhook.cel import runtime_errors
from webhook.cel.values import plain
from webhook.cel.compat import CONVERSIONS
from webhook.cel.ast import Call, CheckedAst, Comprehension, Const, CreateList, CreateMap, CreateStruct, Expr, Ident, Select
from webhook.cel.cost_functions import (
    LIST_CREATE_BASE_COST, MAP_CREATE_BASE_COST, SELECT_AND_IDENT_COST, apply, handlers_for,
)
from webhook.cel.cost_values import AbstractValue, Data
from webhook.cel.limits import COST_LIMIT_EXCEEDED
from webhook.cel.types import lookup_opaque

# Functions whose runtime cost here can differ from cel-go's by a few units (see the docstring).
APPROXIMATE = ("validate", "sets.contains", "sets.intersects", "sets.equivalent", "containsIP", "containsCIDR")
# cel-cpp's comprehension iteration cap (RuntimeOptions.comprehension_max_iterations), in its words
ITERATION_CAP = "Iteration budget exceeded"


class Unsupported(Exception):
    """The expression uses something this evaluator cannot carry exactly."""


class CostLimitExceeded(Exception):
    """cel-go would cancel the evaluation here; ``cost`` is what its tracker had counted."""

    def __init__(self, cost: int) -> None:
        super().__init__(COST_LIMIT_EXCEEDED)
        self.cost = cost


@dataclass(frozen=True)
class Error:
    """A CEL error value (cel-go's text)."""

    message: str


class UInt(int):
    """A CEL uint (Python has one int type)."""


@dataclass(frozen=True)
class Optional:
    present: bool
    value: Any = None


@dataclass(frozen=True)
class TypeValue:
    name: str


_TYPE_IDENTS = {
    "int": "int", "uint": "uint", "double": "double", "bool": "bool", "string": "string", "bytes": "bytes",
    "list": "list", "map": "map", "null_type": "null_type", "type": "type",
    "google.protobuf.Duration": "google.protobuf.Duration", "google.protobuf.Timestamp": "google.protobuf.Timestamp",
}


def type_of(value: Any) -> TypeValue:
    if isinstance(value, bool):
        return TypeValue("bool")
    if isinstance(value, UInt):
        return TypeValue("uint")
    if isinstance(value, int):
        return TypeValue("int")
    if isinstance(value, float):
        return TypeValue("double")
    if isinstance(value, str):
        return TypeValue("string")
    if isinstance(value, (bytes, bytearray)):
        return TypeValue("bytes")
    if value is None:
        return TypeValue("null_type")
    if isinstance(value, dict):
        return TypeValue("map")
    if isinstance(value, (list, tuple)):
        return TypeValue("list")
    if isinstance(value, Optional):
        return TypeValue("optional_type")
    if isinstance(value, TypeValue):
        return TypeValue("type")
    if isinstance(value, datetime.timedelta):
        return TypeValue("google.protobuf.Duration")
    if isinstance(value, datetime.datetime):
        return TypeValue("google.protobuf.Timestamp")
    opaque = lookup_opaque(value)
    if opaque is not None:
        return TypeValue(opaque.name)
    raise Unsupported(f"type of {type(value).__name__}")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, bytearray, list, tuple, dict)) else 1


_OPERATORS = {
    "_+_": "{0} + {1}", "_-_": "{0} - {1}", "_*_": "{0} * {1}", "_/_": "{0} / {1}", "_%_": "{0} % {1}",
    "_<_": "{0} < {1}", "_<=_": "{0} <= {1}", "_>_": "{0} > {1}", "_>=_": "{0} >= {1}",
    "_==_": "{0} == {1}", "_!=_": "{0} != {1}", "!_": "!{0}", "-_": "-{0}", "@in": "{0} in {1}",
    "_[_]": "{0}[{1}]",
}
_OPTIONAL_FUNCTIONS = frozenset({"optional.of", "optional.none", "optional.ofNonZeroValue", "hasValue", "value",
                                 "orValue", "or", "_?._", "_[?_]"})


class Calls:
    """cel-cpp programs for single calls over argument variables ``a0..aN`` (one per shape)."""

    def __init__(self, env: Any) -> None:
        self._env = env  # a cel.Env with a0..a7 declared dyn
        self._programs: dict[tuple[Any, ...], cel.Expression] = {}

    def call(self, node: Call, args: list[Any]) -> Any:
        names = []
        data: dict[str, Any] = {}
        for index, value in enumerate(args):
            name = f"a{index}"
            if isinstance(value, UInt):
                names.append(f"uint({name})")
            elif isinstance(value, (Optional, TypeValue)):
                raise Unsupported(f"{node.function} of an optional or type value")
            else:
                names.append(name)
            data[name] = int(value) if isinstance(value, UInt) else value
        key = (node.function, node.target is not None, tuple(names))
        program = self._programs.get(key)
        if program is None:
            program = self._programs[key] = self._compile(node, names)
        try:
            result = program.eval(data=data)
        except RuntimeError as exc:
            raise Unsupported(str(exc)) from None
        return _from_value(result)

    def select(self, value: Any, field: str) -> Any:
        """``value.field`` where it is not a map key lookup: cel-cpp's error, in cel-go's words."""
        key = ("<select>", field, isinstance(value, UInt))
        program = self._programs.get(key)
        if program is None:
            text = f"{'uint(a0)' if isinstance(value, UInt) else 'a0'}.{field}"
            try:
                program = self._programs[key] = self._env.compile(text, disable_check=True)
            except RuntimeError as exc:
                raise Unsupported(f"{text}: {exc}") from None
        if isinstance(value, (Optional, TypeValue)):
            raise Unsupported("select on an optional or type value")
        try:
            return _from_value(program.eval(data={"a0": int(value) if isinstance(value, UInt) else value}))
        except RuntimeError as exc:
            raise Unsupported(str(exc)) from None

    def _compile(self, node: Call, names: list[str]) -> cel.Expression:
        if node.function in _OPERATORS:
            text = _OPERATORS[node.function].format(*names)
        elif node.target is not None:
            text = f"{names[0]}.{node.function}({', '.join(names[1:])})"
        else:
            text = f"{node.function}({', '.join(names)})"
        try:
            return self._env.compile(text)
        except RuntimeError:
            try:
                return self._env.compile(text, disable_check=True)
            except RuntimeError as exc:
                raise Unsupported(f"{text}: {exc}") from None


def _from_value(result: cel.Value) -> Any:
    kind = result.type()
    if kind == cel.Type.ERROR:
        try:
            text = str(result.value())
        except Exception:  # noqa: BLE001 - an error value that cannot be rendered
            text = "evaluation error"
        return Error(runtime_errors.translate(text))
    if kind == cel.Type.UINT:
        return UInt(result.value())
    if kind == cel.Type.TYPE:
        raise Unsupported("a type value from a call")
    try:
        return plain(result)
    except Exception as exc:  # noqa: BLE001 - optionals and other values Python cannot hold
        raise Unsupported(str(exc)) from None


def _is_attribute(node: Expr) -> bool:
    """An identifier or a chain of field selections and constant-free index qualifiers on one."""
    while True:
        if isinstance(node, Ident):
            return True
        if isinstance(node, Select) and not node.test_only:
            node = node.operand
            continue
        if isinstance(node, Call) and node.function in ("_[_]", "_[?_]", "_?._") and node.target is None and len(node.args) == 2:
            node = node.args[0]
            continue
        return False


def _is_none(value: Any) -> bool:
    return isinstance(value, Optional) and not value.present


def _is_literal(node: Expr) -> bool:
    """Whether cel-go's OptOptimize makes ``node`` a constant (zero cost): a constant, a
    conversion of one, or a list or map literal of those."""
    if isinstance(node, Const):
        return True
    if isinstance(node, Call):
        return node.function in CONVERSIONS and node.target is None and len(node.args) == 1 and _is_literal(node.args[0])
    if isinstance(node, CreateList):
        return not node.optional_indices and all(_is_literal(e) for e in node.elements)
    if isinstance(node, CreateMap):
        return all(not e.optional and _is_literal(e.key) and _is_literal(e.value) for e in node.entries)
    return False


_SET_MEMBER_KINDS = frozenset({"bool", "bytes", "double", "int", "string", "uint"})


def _is_set_membership(node: Call) -> bool:
    # interpreter/decorators.go maybeOptimizeSetMembership: `x in [scalar constants]`
    if node.function != "@in" or len(node.args) != 2 or not isinstance(node.args[1], CreateList):
        return False
    elements = node.args[1]
    return _is_literal(elements) and all(isinstance(e, Const) and e.kind in _SET_MEMBER_KINDS for e in elements.elements)


Resolver = Callable[[str], Any]  # a variable's value (or Error), evaluated lazily by the caller


class Evaluation:
    """One evaluation of one expression: its activation, its tracker, its limit."""

    def __init__(self, calls: Calls, activation: Mapping[str, Any], limit: int, variables: Resolver | None) -> None:
        self.calls = calls
        self.activation = activation
        self.limit = limit
        self.variables = variables
        self.cost = 0
        self.locals: dict[str, Any] = {}
        self._data = Data({})

    def charge(self, amount: int) -> None:
        self.cost += amount
        if self.cost > self.limit:
            raise CostLimitExceeded(self.cost)

    # -- nodes ---------------------------------------------------------------------------------

    def eval(self, node: Expr) -> Any:
        if isinstance(node, Const):
            return _constant(node)
        if isinstance(node, Ident):
            self.charge(SELECT_AND_IDENT_COST)
            return self._ident(node.name)
        if isinstance(node, Select):
            return self._select(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, CreateList):
            return self._list(node)
        if isinstance(node, CreateMap):
            return self._map(node)
        if isinstance(node, Comprehension):
            return self._comprehension(node)
        if isinstance(node, CreateStruct):
            raise Unsupported("message construction")
        raise Unsupported(type(node).__name__)

    def _ident(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        if name in self.activation:
            return self.activation[name]
        head, _, rest = name.partition(".")
        if rest and (head in self.locals or head in self.activation):
            value = self.locals.get(head, self.activation.get(head))
            for field in rest.split("."):
                self.charge(SELECT_AND_IDENT_COST)
                value = self._field(value, field)
            return value
        if name in _TYPE_IDENTS:
            return TypeValue(_TYPE_IDENTS[name])
        raise Unsupported(f"identifier {name}")

    def _field(self, value: Any, field: str) -> Any:
        if isinstance(value, Error):
            return value
        if isinstance(value, dict) and field in value:
            return value[field]
        if isinstance(value, Optional):  # inside an optional chain every qualifier is optional
            if not value.present:
                return value
            inner = value.value
            if isinstance(inner, dict):
                return Optional(field in inner, inner.get(field))
            if inner is None or not isinstance(inner, (list, tuple, Optional)):
                return Optional(False)
            raise Unsupported("optional select on a list")
        return self.calls.select(value, field)

    def _is_variable(self, node: Expr) -> bool:
        return (self.variables is not None and isinstance(node, Select) and not node.test_only
                and isinstance(node.operand, Ident) and node.operand.name == "variables"
                and "variables" not in self.locals)

    def _select(self, node: Select) -> Any:
        if not node.test_only:
            return self._qualified(node)
        # evalTestOnly: 1, plus the qualifiers of its operand; the operand's root is not
        # observed (has(object.spec) costs 1, has(object.spec.x) 2)
        value = self._qualified(node.operand, root=False)
        self.charge(SELECT_AND_IDENT_COST)
        if isinstance(value, Error):
            return value
        if isinstance(value, dict):
            return node.field in value
        if isinstance(value, (list, tuple)):
            return self.calls.select(value, node.field)  # cel-go fails; the fast path's words
        if isinstance(value, Optional):
            raise Unsupported("has() on an optional")
        return False  # null and scalars: cel-go without EnableErrorOnBadPresenceTest

    def _qualified(self, operand: Expr, root: bool = True) -> Any:
        """An attribute: 1 for its root (an identifier, or a relative attribute over any other
        expression) unless ``root`` is False, and 1 per qualifier (a field, an index, an
        optional field or index) up to and including the first that fails."""
        if isinstance(operand, Ident):
            if root:
                self.charge(SELECT_AND_IDENT_COST)
            return self._ident(operand.name)
        if self._is_variable(operand):
            self.charge((2 if root else 1) * SELECT_AND_IDENT_COST)  # ``variables`` and its qualifier
            assert self.variables is not None and isinstance(operand, Select)
            return self.variables(operand.field)
        if isinstance(operand, Select) and not operand.test_only:
            value = self._qualified(operand.operand, root)
            if isinstance(value, Error):
                return value  # later qualifiers are not reached
            result = self._field(value, operand.field)
            if not _is_none(result):  # an optional qualifier that finds nothing is not observed
                self.charge(SELECT_AND_IDENT_COST)
            return result
        if isinstance(operand, Call) and operand.function in ("_[_]", "_[?_]", "_?._") and self._is_qualifier(operand):
            return self._index(operand, root)
        if isinstance(operand, Call) and operand.function == "_?_:_":
            return self._conditional(operand)  # a conditional attribute: qualifiers go to its branch
        value = self.eval(operand)
        if root:
            self.charge(SELECT_AND_IDENT_COST)  # the relative attribute
        return value

    def _is_qualifier(self, node: Call) -> bool:
        return len(node.args) == 2 and node.target is None

    def _index(self, node: Call, root: bool = True) -> Any:
        container = self._qualified(node.args[0], root)
        if isinstance(container, Error):
            return container
        key = node.args[1]
        if isinstance(key, Const):
            key_value = _constant(key)
        elif _is_attribute(key):  # an attribute as a qualifier: resolved directly, root not observed
            key_value = self._qualified(key, root=False)
        else:
            key_value = self.eval(key)
        if isinstance(key_value, Error):
            self.charge(SELECT_AND_IDENT_COST)
            return key_value
        result = self._qualify(node.function, container, key_value, node)
        if not _is_none(result):  # an optional qualifier that finds nothing is not observed
            self.charge(SELECT_AND_IDENT_COST)
        return result

    def _qualify(self, function: str, container: Any, key: Any, node: Call) -> Any:
        optional = function != "_[_]" or isinstance(container, Optional)
        if isinstance(container, Optional):
            if not container.present:
                return container
            container = container.value
        if optional:
            if isinstance(container, dict):
                return Optional(key in container, container.get(key)) if _hashable(key) else Optional(False)
            if isinstance(container, (list, tuple)) and type(key) is int:
                inside = 0 <= key < len(container)
                return Optional(inside, container[key] if inside else None)
            if function == "_?._" and (container is None or not isinstance(container, (list, tuple))):
                return Optional(False)  # cel-go: an optional select on null or a scalar is none
            raise Unsupported("optional index")
        if isinstance(container, dict) and _hashable(key) and key in container and type(key) is not float:
            return container[key]
        if isinstance(container, (list, tuple)) and type(key) is int and 0 <= key < len(container):
            return container[key]
        return self.calls.call(node, [container, key])

    def _conditional(self, node: Call) -> Any:
        """cel-go plans every ternary as a conditional attribute: no cost of its own; a branch
        that is an attribute costs only its qualifiers, any other branch what it costs."""
        condition = self.eval(node.args[0])
        if isinstance(condition, Error):
            return condition
        if not isinstance(condition, bool):
            return Error("no such overload")
        branch = node.args[1] if condition else node.args[2]
        return self._qualified(branch, root=False) if _is_attribute(branch) else self.eval(branch)

    def _call(self, node: Call) -> Any:
        function = node.function
        if function in ("_&&_", "_||_"):
            return self._logic(node, function == "_&&_")
        if function == "_?_:_":
            return self._conditional(node)
        if function in ("orValue", "or") and node.target is not None and len(node.args) == 1:
            # evalOptionalOr / evalOptionalOrValue: no cost of their own, the alternative only
            # evaluated when the receiver is none
            receiver = self.eval(node.target)
            if isinstance(receiver, Error):
                return receiver
            if not isinstance(receiver, Optional):
                return Error("no such overload")
            if receiver.present:
                return receiver.value if function == "orValue" else receiver
            return self.eval(node.args[0])
        if function in ("_[_]", "_[?_]", "_?._") and self._is_qualifier(node):
            return self._index(node)
        if _is_set_membership(node):
            value = self.eval(node.args[0])
            if isinstance(value, Error):
                return value
            return any(_equal(value, _constant(e)) for e in node.args[1].elements)  # type: ignore[union-attr]
        if function in ("@not_strictly_false", "@not_strictly_true"):
            value = self.eval(node.args[0])
            self.charge(1)
            return (value is not (function == "@not_strictly_true")) if isinstance(value, bool) else True
        if _is_literal(node):
            # OptOptimize folds a conversion of a constant while planning: no cost at run time
            return self._folded(node)
        operands = ((node.target,) if node.target is not None else ()) + node.args
        args = [self.eval(o) for o in operands]
        result = self._apply(node, args)
        if not (function == "matches" and any(isinstance(a, Error) for a in args)):
            # (a matches() over a constant pattern, precompiled, is not observed on an error)
            self.charge(self._call_cost(node, args, result))
        return result

    def _folded(self, node: Expr) -> Any:
        """The value of a constant expression (no cost: folded while planning)."""
        if isinstance(node, Call):
            return self._apply(node, [self._folded(node.args[0])])
        if isinstance(node, CreateList):
            return [self._folded(e) for e in node.elements]
        if isinstance(node, CreateMap):
            out = {}
            for entry in node.entries:
                key = self._folded(entry.key)
                if not _hashable(key):
                    raise Unsupported("map key")
                out[key] = self._folded(entry.value)
            return out
        assert isinstance(node, Const)
        return _constant(node)

    def _apply(self, node: Call, args: list[Any]) -> Any:
        for value in args:
            if isinstance(value, Error):
                return value
        function = node.function
        if function == "type" and len(args) == 1:
            return type_of(args[0])
        if function in ("_==_", "_!=_") and any(isinstance(a, (TypeValue, Optional)) for a in args):
            same = args[0] == args[1]
            return same if function == "_==_" else not same
        if function in _OPTIONAL_FUNCTIONS or any(isinstance(a, Optional) for a in args):
            return self._optional(node, args)
        native = _native(function, node.target is not None, args)
        if native is not _NO_NATIVE:
            return native
        return self.calls.call(node, args)

    def _optional(self, node: Call, args: list[Any]) -> Any:
        function = node.function
        if function == "optional.of":
            return Optional(True, args[0])
        if function == "optional.none":
            return Optional(False)
        if function == "optional.ofNonZeroValue":
            value = args[0]
            zero = value in (0, 0.0, "", b"", False, None) or value == [] or value == {}
            return Optional(not zero, None if zero else value)
        receiver = args[0] if args else None
        if not isinstance(receiver, Optional):
            if any(isinstance(a, Optional) for a in args):
                raise Unsupported(f"{function} with optional arguments")
            # hasValue()/value() of a plain value: the format library's (compat.py D28)
            return self.calls.call(node, args)
        if function == "hasValue":
            return receiver.present
        if function == "value":
            return receiver.value if receiver.present else Error("optional.none() dereference")
        if function == "orValue":
            return receiver.value if receiver.present else args[1]
        if function == "or":
            return receiver if receiver.present else args[1]
        raise Unsupported(f"{function} on an optional")

    def _call_cost(self, node: Call, args: list[Any], result: Any) -> int:
        runtime = _RUNTIME_COSTS.get(node.function)
        if runtime is not None:
            return runtime(args, result)
        if node.function == "sort" and len(node.overload_ids) > 1:
            return 1  # ext lists: a sort left to run-time dispatch (dyn) has no cost tracker
        handlers = _HANDLERS.get(id(node))
        if handlers is None or handlers[0] is not node:
            found = handlers_for(node)
            if len(found) != 1 and node.overload_ids and len(set(found)) == 1:
                found = (found[0],)  # every overload the checker left costs alike
            handlers = _HANDLERS[id(node)] = (node, found)
        found = handlers[1]
        if len(found) == 1:
            handler = found[0]
        else:  # a dyn call: the overload that ran is the one for the actual argument types
            handler = _by_runtime_types(node, args, found)
        if handler is None:
            return 1
        vals = [AbstractValue((a,)) if not isinstance(a, (Error, Optional, TypeValue)) else AbstractValue((None,)) for a in args]
        cost, _ = apply(handler, vals, node, self._data)
        return cost

    def _logic(self, node: Call, conjunction: bool) -> Any:
        left = self.eval(node.args[0])
        if left is (not conjunction):  # false && _ / true || _
            return left
        right = self.eval(node.args[1])
        if right is (not conjunction):
            return right
        if isinstance(left, Error):
            return left
        if isinstance(right, Error):
            return right
        if not isinstance(left, bool) or not isinstance(right, bool):
            return Error("no such overload")
        return conjunction

    def _list(self, node: CreateList) -> Any:
        if _is_literal(node):
            return self._folded(node)
        values = []
        for index, element in enumerate(node.elements):
            value = self.eval(element)
            if index in node.optional_indices:
                if isinstance(value, Optional):
                    if value.present:
                        values.append(value.value)
                    continue
            values.append(value)
        self.charge(LIST_CREATE_BASE_COST)
        for value in values:
            if isinstance(value, Error):
                return value
        return values

    def _map(self, node: CreateMap) -> Any:
        if _is_literal(node):
            return self._folded(node)
        out: dict[Any, Any] = {}
        error = None
        for entry in node.entries:
            key, value = self.eval(entry.key), self.eval(entry.value)
            if error is None and isinstance(key, Error):
                error = key
            if error is None and isinstance(value, Error):
                error = value
            if entry.optional and isinstance(value, Optional):
                if value.present:
                    out[key] = value.value
                continue
            if not _hashable(key):
                raise Unsupported("map key")
            out[key] = value
        self.charge(MAP_CREATE_BASE_COST)
        return error if error is not None else out

    def _comprehension(self, node: Comprehension) -> Any:
        is_bind = (isinstance(node.iter_range, CreateList) and not node.iter_range.elements
                   and isinstance(node.loop_condition, Const) and node.loop_condition.value is False)
        if is_bind:  # optMap/optFlatMap: the accumulator is the bound value; no loop
            saved = self._enter({node.accu_var: self.eval(node.accu_init)})
            try:
                return self.eval(node.result)
            finally:
                self._leave(saved)
        iterable = self.eval(node.iter_range)
        if isinstance(iterable, Error):
            return iterable
        if isinstance(iterable, dict):
            pairs = list(iterable.items())
            items = [(k, v) for k, v in pairs] if node.iter_var2 else [(k, None) for k, _ in pairs]
        elif isinstance(iterable, (list, tuple)):
            items = [(i, v) for i, v in enumerate(iterable)] if node.iter_var2 else [(v, None) for v in iterable]
        else:
            return Error(f"cannot iterate over {type_of(iterable).name}")
        accu = self.eval(node.accu_init)
        names = [node.iter_var, node.accu_var] + ([node.iter_var2] if node.iter_var2 else [])
        saved = self._enter({name: self.locals.get(name) for name in names})
        try:
            for first, second in items:
                self.locals[node.iter_var] = first
                if node.iter_var2:
                    self.locals[node.iter_var2] = second
                self.locals[node.accu_var] = accu
                condition = self.eval(node.loop_condition)
                if condition is False:
                    break
                accu = self.eval(node.loop_step)
            self.locals[node.accu_var] = accu
            for name in (node.iter_var, node.iter_var2):
                if name:
                    self.locals.pop(name, None)
            return self.eval(node.result)
        finally:
            self._leave(saved)

    def _enter(self, bindings: dict[str, Any]) -> dict[str, Any]:
        saved = {name: self.locals[name] for name in bindings if name in self.locals}
        missing = [name for name in bindings if name not in self.locals]
        self.locals.update({k: v for k, v in bindings.items()})
        return {"saved": saved, "missing": missing}

    def _leave(self, state: dict[str, Any]) -> None:
        for name in state["missing"]:
            self.locals.pop(name, None)
        self.locals.update(state["saved"])


_NO_NATIVE = object()
_PLAIN_SCALARS = (str, bool, type(None))


def _native(function: str, member: bool, args: list[Any]) -> Any:
    """The few calls comprehensions make on every iteration, answered without a cel-cpp call
    where the answer cannot differ from cel-cpp's: boolean not, equality of strings, booleans,
    null and ints, and size of strings, lists and maps."""
    if function == "!_" and len(args) == 1 and isinstance(args[0], bool):
        return not args[0]
    if function in ("_==_", "_!=_") and len(args) == 2:
        a, b = args
        plain = (isinstance(a, _PLAIN_SCALARS) or (type(a) is int)) and (isinstance(b, _PLAIN_SCALARS) or (type(b) is int))
        if plain:
            same = type(a) is type(b) and a == b
            return same if function == "_==_" else not same
    if function == "size" and len(args) == 1 and isinstance(args[0], (str, list, dict)):
        return len(args[0])
    return _NO_NATIVE


def _runtime_size(value: Any) -> int:
    return _size(value) if not isinstance(value, (Error, Optional, TypeValue)) else 1


def _ceil_tenth(size: int, factor: float = 0.1) -> int:
    return math.ceil(size * factor)


# k8s.io/apiserver/pkg/cel/library/cost.go CallCost, which the tracker asks before cel-go's own
# defaults, where it differs from the estimate's formula (cost_functions.py): the nominal
# functions, join (by its result), and the string functions it does not list (charAt, format,
# strings.quote, ...: the tracker's default of 1).
_NOMINAL = ("serviceAccount", "path", "group", "resource", "subresource", "namespace", "name", "allowed",
            "reason", "error", "errored", "masked", "prefixLength", "family", "isUnspecified", "isLoopback",
            "isLinkLocalMulticast", "isLinkLocalUnicast", "sign", "asInteger", "isInteger", "asApproximateFloat",
            "isGreaterThan", "isLessThan", "compareTo", "add", "sub", "charAt", "format")
_RUNTIME_COSTS: dict[str, Callable[[list[Any], Any], int]] = {
    **{name: (lambda args, result: 1) for name in _NOMINAL},
    "check": lambda args, result: 350_000,
    "join": lambda args, result: _ceil_tenth(_runtime_size(result), 0.2) if args else 1,
}


# id(node) -> (node, cost handlers): resolved once per AST node (the node is kept, so its id
# is not reused while it is here)
_HANDLERS: dict[int, tuple[Call, tuple[Any, ...]]] = {}


def _by_runtime_types(node: Call, args: list[Any], handlers: tuple[Any, ...]) -> Any:
    """The cost handler of the overload the argument types select (``_+_`` on dyn operands)."""
    kinds = {type_of(a).name for a in args if not isinstance(a, Error)}
    for overload, handler in zip(node.overload_ids, handlers):
        if any(kind in overload for kind in kinds if kind in ("string", "bytes", "list")):
            return handler
    return None


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _constant(node: Const) -> Any:
    if node.kind == "uint":
        return UInt(node.value)  # type: ignore[arg-type]
    if node.kind in ("duration", "timestamp"):
        raise Unsupported("a duration or timestamp constant")
    return node.value


def evaluate(ast: CheckedAst, calls: Calls, activation: Mapping[str, Any], limit: int,
             variables: Resolver | None = None) -> tuple[Any, int]:
    """(value or :class:`Error`, cel-go's actual cost). Raises :class:`CostLimitExceeded` when
    cel-go would cancel, :class:`Unsupported` when this evaluator cannot decide exactly."""
    evaluation = Evaluation(calls, activation, limit, variables)
    value = evaluation.eval(ast.expr)
    return value, evaluation.cost
