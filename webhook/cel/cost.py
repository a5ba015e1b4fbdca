"""The runtime cost limit, enforced before evaluation by an upper bound of cel-go's cost.

kube-apiserver runs every expression under cel-go's cost tracker (interpreter/runtimecost.go,
with Kubernetes' library costs from k8s.io/apiserver/pkg/cel/library/cost.go) and cancels it
with "operation cancelled: actual cost limit exceeded" past PER_CALL_LIMIT. cel-cpp has no
cost tracker, so :func:`estimate` walks the checked AST *before* evaluation with the sizes of the
values actually present in the activation: select paths are resolved into the data
(``object.spec.containers`` is that list, and a comprehension variable stands for every element
of its range at once), computed strings and lists carry size bounds (``x + x``, ``replace``,
``join``, ``split``), and each call is charged cel-go's formula for those sizes (string functions
``ceil(size * 0.1)``, regex ``ceil((1 + len) * 0.1) * ceil(len(pattern) * 0.25)``, a comprehension
``range size * (condition + step)``, ...). Because nothing is executed, a nested comprehension
over a 5,000-item list or a doubling string blow-up is rejected in microseconds to milliseconds.

The walk is compiled into closures once per AST (``_plan``); what is known of values lives in
cost_values.py and the per-function formulas in cost_functions.py.

Where the bound exceeds cel-go's actual cost (documented differences):
  * short-circuiting is ignored: ``a && b``, ``a || b`` and ``all``/``exists`` charge both sides
    and every iteration; ``c ? x : y`` charges the dearer branch;
  * a value that stands for several candidates (a comprehension variable, ``m[k]`` with an
    unknown key, a ``filter`` result) is charged for the largest of them, on every iteration,
    and a ``filter`` is assumed to keep every element; a call on ``dyn`` operands is charged its
    dearest possible overload (``_+_`` on dyn lists as if it concatenated strings);
  * values computed from computed strings are bounded by lengths only: ``s.split(',')`` has up
    to ``size(s) + 1`` elements of up to ``size(s)`` characters each, so ranking/sorting idioms
    over such lists are bounded quadratically (the policy layer evaluates ``spec.variables``
    separately and hands their values in, so ``variables.x`` is exact data);
  * a list concatenation producing more than MAX_LIST_SIZE elements costs COST_CAP (cel-go
    charges 1, but cel-cpp copies, so doubling a list through ``cel.bind`` would exhaust memory);
  * presence tests (``has``) and field selections on ``dyn`` cost 1 (cel-go charges some of
    them 0 at run time); ``cel.bind`` charges its empty iteration range (10);
  * equality on Kubernetes opaque values costs by the size of the string they were built from
    (cel-go: 1); ``format``, ``string()`` and other library results are bounded generously;
  * data the estimator cannot resolve (a variable missing from the activation, a computed
    container without element bounds) is assumed as large as the largest string, list or map of
    the whole activation; a value that is not plain JSON-like data counts as size 1. Pass
    ``sizes=`` (the plain data) when evaluating a prebuilt ``cel.Activation``: without it every
    variable counts as size 1 and the bound is no longer a bound.
Where it can fall short: library functions that cel-go charges 1 for (and unknown ones) are
charged 1 here too, and a comprehension's accumulator is bounded after one abstract step (enough
for the standard macros, which are the only comprehensions CEL source can produce).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Mapping

from webhook.cel.ast import (
    Call, CheckedAst, Comprehension, Const, CreateList, CreateMap, CreateStruct, Expr, Ident, Select,
)
from webhook.cel.cost_functions import (
    COST_CAP, LIST_CONCATENATIONS, LIST_CREATE_BASE_COST, MAP_CREATE_BASE_COST, SELECT_AND_IDENT_COST, STRUCT_CREATE_BASE_COST,
    apply, default_result, handlers_for, returns_scalar,
)
from webhook.cel.cost_values import (  # largest_size: re-exported for callers' size hints
    BOTTOM, SCALAR, AbstractValue, Data, bounded, concrete, items_of, largest_size, summary, union,
)


class _Context(Data):
    """One estimate: the activation's data plus the comprehension variables in scope."""

    def __init__(self, activation: Mapping[str, Any]) -> None:
        super().__init__(activation)
        self.locals: dict[str, AbstractValue] = {}


Plan = Callable[[_Context], "tuple[int, AbstractValue]"]


def _plan(node: Expr) -> Plan:
    """Turn a node into a closure once per AST, so an estimate is a few calls per node."""
    return _PLANNERS[type(node)](node)


def _plan_const(node: Const) -> Plan:
    value = AbstractValue((node.value,))
    value.size, value.min_size  # computed once, shared by every estimate
    return lambda ctx: (0, value)


def _plan_ident(node: Ident) -> Plan:
    name = node.name
    head, _, rest = name.partition(".")
    fields = rest.split(".") if rest else ()

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        local = ctx.locals.get(name)
        if local is not None:
            return SELECT_AND_IDENT_COST, local
        activation = ctx.activation
        if name in activation:
            return SELECT_AND_IDENT_COST, AbstractValue((activation[name],))
        if fields and head in activation:  # a select chain the checker folded into one name
            value = AbstractValue((activation[head],))
            for field in fields:
                value = ctx.select(value, field)
            return SELECT_AND_IDENT_COST, value
        return SELECT_AND_IDENT_COST, ctx.top
    return run


def _plan_select(node: Select) -> Plan:
    operand, field = _plan(node.operand), node.field
    if node.test_only:
        def presence(ctx: _Context) -> tuple[int, AbstractValue]:
            return operand(ctx)[0] + SELECT_AND_IDENT_COST, SCALAR
        return presence

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        cost, value = operand(ctx)
        cands = value.cands
        if value.bound is None and len(cands) == 1 and type(cands[0]) is dict:  # the common path
            found = cands[0].get(field, _MISSING)
            return cost + SELECT_AND_IDENT_COST, BOTTOM if found is _MISSING else AbstractValue((found,))
        return cost + SELECT_AND_IDENT_COST, ctx.select(value, field)
    return run


_MISSING = object()


def _plan_list(node: CreateList) -> Plan:
    elements = tuple(_plan(e) for e in node.elements)
    count, min_count = len(node.elements), len(node.elements) - len(node.optional_indices)

    positional = not node.optional_indices

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        cost, elem = LIST_CREATE_BASE_COST, BOTTOM
        values = []
        for element in elements:
            element_cost, value = element(ctx)
            cost += element_cost
            elem = union(elem, value)
            values.append(value)
        result = summary(count, elem, None, min_count)
        if positional and elem is not None:
            result.items = tuple(values)
        return cost, result
    return run


def _plan_map(node: CreateMap) -> Plan:
    entries = tuple((_plan(e.key), _plan(e.value)) for e in node.entries)

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        cost, keys, values = MAP_CREATE_BASE_COST, BOTTOM, BOTTOM
        for key_plan, value_plan in entries:
            (key_cost, key), (value_cost, value) = key_plan(ctx), value_plan(ctx)
            cost += key_cost + value_cost
            keys, values = union(keys, key), union(values, value)
        return cost, summary(len(entries), values, keys)
    return run


def _plan_struct(node: CreateStruct) -> Plan:
    fields = tuple(_plan(e.value) for e in node.entries)

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        cost, values = STRUCT_CREATE_BASE_COST, BOTTOM
        for field in fields:
            field_cost, value = field(ctx)
            cost += field_cost
            values = union(values, value)
        return cost, summary(1, values, None, 1)
    return run


def _plan_call(node: Call) -> Plan:
    function = node.function
    operands = tuple(_plan(o) for o in ((node.target,) if node.target is not None else ()) + node.args)
    if function in ("_&&_", "_||_") and len(operands) == 2:  # no cost of their own in cel-go
        left, right = operands
        return lambda ctx: (left(ctx)[0] + right(ctx)[0], SCALAR)
    if _is_set_membership(node):  # OptOptimize turns the list into a set: no cost of its own
        element = operands[0]
        return lambda ctx: (element(ctx)[0], SCALAR)
    if function == "_?_:_" and len(operands) == 3:
        condition, if_true, if_false = operands

        def conditional(ctx: _Context) -> tuple[int, AbstractValue]:
            (true_cost, true_val), (false_cost, false_val) = if_true(ctx), if_false(ctx)
            return condition(ctx)[0] + max(true_cost, false_cost), ctx.known(union(true_val, false_val))
        return conditional
    handlers = handlers_for(node)
    joins_lists = len(handlers) > 1 and len(operands) == 2 and any(
        o in LIST_CONCATENATIONS for o in node.overload_ids)
    scalar = returns_scalar(node)
    sized = any(handler is not None for handler in handlers)
    if handlers == (None,) * len(handlers) and scalar:  # cel-go's default: 1 per call
        if len(operands) == 1:
            only = operands[0]
            return lambda ctx: (only(ctx)[0] + 1, SCALAR)
        return lambda ctx: (sum([operand(ctx)[0] for operand in operands]) + 1, SCALAR)

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        cost = 0
        vals: list[AbstractValue] = []
        for operand in operands:
            operand_cost, value = operand(ctx)
            cost += operand_cost
            vals.append(value)
        if len(handlers) == 1 and handlers[0] is not None:
            call_cost, result = apply(handlers[0], vals, node, ctx)
            if result is None:
                result = default_result(node, vals)
            return cost + call_cost, result
        call_cost, result = 0, BOTTOM
        for handler in handlers:
            if handler is None:
                # Beside sized overloads (``_+_`` on dyn) the rest are numeric or time ones.
                one_cost, one_result = 1, (SCALAR if sized else default_result(node, vals))
            else:
                one_cost, one_result = apply(handler, vals, node, ctx)
                if one_result is None:
                    one_result = default_result(node, vals)
            call_cost = max(call_cost, one_cost)
            result = union(result, one_result)
        if joins_lists and result is not None:
            result = _as_list_at_most(result, vals[0].count + vals[1].count)
        return cost + call_cost, ctx.known(result)
    return run


def _as_list_at_most(value: AbstractValue, count: int) -> AbstractValue:
    """``value`` (a dyn ``_+_``: joined strings or joined lists) iterated as the lists it joins:
    a comprehension can only range over the list reading, so its length bounds the iterations."""
    if value.is_bounded or count >= value.count:
        return value
    narrowed = AbstractValue(value.cands, value.bound, value.floor, value.elem, value.key)
    narrowed.limit = count
    return narrowed


_SET_MEMBER_KINDS = frozenset({"bool", "bytes", "double", "int", "string", "uint"})


def _is_set_membership(node: Call) -> bool:
    """``x in [scalar constants]``, which cel-go's interpreter/decorators.go
    maybeOptimizeSetMembership evaluates as a set lookup charged nothing (kube-apiserver
    evaluates with OptOptimize)."""
    if node.function != "@in" or len(node.args) != 2 or not isinstance(node.args[1], CreateList):
        return False
    elements = node.args[1]
    return not elements.optional_indices and all(
        isinstance(e, Const) and e.kind in _SET_MEMBER_KINDS for e in elements.elements)


def _plan_comprehension(node: Comprehension) -> Plan:
    iter_range, accu_init = _plan(node.iter_range), _plan(node.accu_init)
    condition, step, result = _plan(node.loop_condition), _plan(node.loop_step), _plan(node.result)
    iter_var, iter_var2, accu_var = node.iter_var, node.iter_var2, node.accu_var
    grows = isinstance(node.accu_init, (CreateList, CreateMap))  # map/filter build a list
    is_bind = (
        isinstance(node.iter_range, CreateList) and not node.iter_range.elements
        and isinstance(node.loop_condition, Const) and node.loop_condition.value is False
    )

    def bind(ctx: _Context) -> tuple[int, AbstractValue]:  # cel.bind: no loop
        scope = ctx.locals
        saved = scope.get(accu_var)
        init_cost, scope[accu_var] = accu_init(ctx)
        result_cost, result_val = result(ctx)
        _restore(scope, accu_var, saved)
        return LIST_CREATE_BASE_COST + init_cost + result_cost, result_val

    def run(ctx: _Context) -> tuple[int, AbstractValue]:
        scope = ctx.locals
        range_cost, range_val = iter_range(ctx)
        init_cost, init = accu_init(ctx)
        count = range_val.count
        saved = (scope.get(iter_var), scope.get(iter_var2) if iter_var2 else None, scope.get(accu_var))
        if iter_var2:  # two-variable form: (index or key, value)
            keys = union(concrete([k for c in range_val.cands if isinstance(c, dict) for k in c]), range_val.key)
            scope[iter_var] = ctx.known(union(SCALAR, keys))
            scope[iter_var2] = ctx.known(items_of(range_val))
        else:
            scope[iter_var] = ctx.elements(range_val)
        scope[accu_var] = summary(init.size + count, init.elem, init.key) if grows else init
        condition_cost = condition(ctx)[0]
        step_cost, step_val = step(ctx)
        if grows:
            accu = summary(init.size + count, union(init.elem, step_val.elem), union(init.key, step_val.key))
        else:
            accu = ctx.known(union(init, step_val))
        _restore(scope, iter_var, saved[0])
        if iter_var2:
            _restore(scope, iter_var2, saved[1])
        scope[accu_var] = accu
        result_cost, result_val = result(ctx)
        _restore(scope, accu_var, saved[2])
        total = range_cost + init_cost + count * (condition_cost + step_cost) + result_cost
        return min(total, COST_CAP), result_val
    return bind if is_bind else run


def _restore(scope: dict[str, AbstractValue], name: str, previous: AbstractValue | None) -> None:
    if previous is None:
        scope.pop(name, None)
    else:
        scope[name] = previous


_PLANNERS: dict[type, Callable[[Any], Plan]] = {
    Const: _plan_const,
    Ident: _plan_ident,
    Select: _plan_select,
    Call: _plan_call,
    CreateList: _plan_list,
    CreateMap: _plan_map,
    CreateStruct: _plan_struct,
    Comprehension: _plan_comprehension,
}

_PLANS: "weakref.WeakKeyDictionary[CheckedAst, Plan]" = weakref.WeakKeyDictionary()


def _plan_for(ast: CheckedAst) -> Plan:
    plan = _PLANS.get(ast)
    if plan is None:
        plan = _PLANS[ast] = _plan(ast.expr)
    return plan


def estimate_uniform(ast: CheckedAst, size: int, count: int | None = None) -> int:
    """An upper bound of :func:`estimate` over *any* activation whose every string, list and map,
    at any depth, is at most ``size`` long: the estimate of an activation of unknown data bounded
    by ``size`` (and every list and map at most ``count`` long). It depends on the AST and the
    sizes only, so callers cache it per size class and a request then pays a dictionary lookup
    instead of a walk (see CompiledExpression.charge)."""
    context = _Context({})
    context._top = bounded(max(1, size), count=None if count is None else max(1, count))
    try:
        cost, _ = _plan_for(ast)(context)
    except OverflowError:  # sizes past what a float holds: no bound worth the name
        return COST_CAP
    return min(cost, COST_CAP)


def estimate(ast: CheckedAst, activation: Mapping[str, Any]) -> int:
    """An upper bound of cel-go's runtime cost of ``ast`` over ``activation`` (plain data)."""
    plan = _plan_for(ast)
    data = activation if isinstance(activation, Mapping) else {}
    try:
        cost, _ = plan(_Context(data))
    except OverflowError:
        return COST_CAP
    return min(cost, COST_CAP)
