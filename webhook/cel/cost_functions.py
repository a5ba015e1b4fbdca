"""What each call costs in cel-go, for the sizes the estimator knows (see cost.py).

Formulas follow cel-go's interpreter/runtimecost.go and checker/cost.go (keyed by overload id)
and Kubernetes' k8s.io/apiserver/pkg/cel/library/cost.go (keyed by function name, as there).
A handler gets the abstract values of the receiver and arguments (receiver first, as cel-go's
runtime passes them) and returns the call's own cost and, when it can say more than the
checked type does, the abstract result.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from webhook.cel.ast import Call, Const
from webhook.cel.cost_values import (
    BOTTOM, SCALAR, AbstractValue, Data, bounded, items_of, summary, union,
)

# cel-go common/cost.go
SELECT_AND_IDENT_COST = 1
LIST_CREATE_BASE_COST = 10
MAP_CREATE_BASE_COST = 30
STRUCT_CREATE_BASE_COST = 40
STRING_TRAVERSAL_COST_FACTOR = 0.1
REGEX_STRING_LENGTH_COST_FACTOR = 0.25
# k8s library/cost.go
AUTHZ_CHECK_COST = 350_000
# kubernetes.NamedFormat patterns are at most a few hundred characters; assume this many.
FORMAT_MAX_REGEX_SIZE = 1_000
# Bounds of our own (see _concat_list), and the largest cost cel-go can count (uint64).
MAX_LIST_SIZE = 10_000_000
COST_CAP = 2**64 - 1


Handler = Callable[[Sequence[AbstractValue], Call, Data], "tuple[int, AbstractValue | None]"]


def _scaled(size: int, factor: float = STRING_TRAVERSAL_COST_FACTOR) -> int:
    return math.ceil(min(size, COST_CAP) * factor)


def _regex_cost(text: AbstractValue, pattern_size: int) -> int:
    return _scaled(1 + text.size) * _scaled(pattern_size, REGEX_STRING_LENGTH_COST_FACTOR)


def _linear(factor: float = STRING_TRAVERSAL_COST_FACTOR, same_size: bool = False) -> Handler:
    def handler(vals, node, ctx):
        if not vals:
            return 1, None
        return _scaled(vals[0].size, factor), (summary(vals[0].size) if same_size else None)
    return handler


def _fixed(cost: int) -> Handler:
    return lambda vals, node, ctx: (cost, None)


def _compare(vals, node, ctx):
    return _scaled(min(vals[0].size, vals[1].size)), SCALAR


def _concat_text(vals, node, ctx):
    a, b = vals
    return _scaled(a.size + b.size), summary(a.size + b.size, min_size=a.min_size + b.min_size)


def _concat_list(vals, node, ctx):  # O(1) in cel-go; tracked for the result size
    a, b = vals
    size = a.count + b.count
    # cel-cpp copies on concatenation, so repeated doubling (cel.bind chains) could exhaust memory
    # while cel-go charges 1: refuse lists no real object has.
    cost = 1 if size <= MAX_LIST_SIZE else COST_CAP
    return cost, summary(size, union(items_of(a), items_of(b)), None, a.min_size + b.min_size)


def _concat_any(vals, node, ctx):  # unchecked ``_+_``: string, bytes or list
    a, b = vals
    size = a.size + b.size
    return _scaled(size), summary(size, union(items_of(a), items_of(b)), None)


def _matches(vals, node, ctx):
    return _regex_cost(vals[0], vals[1].size), SCALAR


def _contains(vals, node, ctx):
    return _scaled(vals[0].size) * _scaled(vals[1].size), SCALAR


def _index(vals, node, ctx):
    return 1, ctx.index(vals[0], vals[1])


def _replace(vals, node, ctx):
    text, old, new = vals[0], vals[1], vals[2]
    size = text.size
    if old.min_size == 0:
        result = size + (size + 1) * new.size
    elif new.size <= old.min_size:
        result = size
    else:
        result = max(size, math.ceil(size / old.min_size) * new.size)
    return _scaled(size, 2 * STRING_TRAVERSAL_COST_FACTOR), summary(result)


def _split(vals, node, ctx):
    size = vals[0].size
    return _scaled(size, 2 * STRING_TRAVERSAL_COST_FACTOR), summary(size + 1, summary(size))


def _join(vals, node, ctx):
    items = ctx.elements(vals[0])
    separator = vals[1].size if len(vals) > 1 else 0
    count = vals[0].count
    size = count * items.size + separator * max(count - 1, 0)
    return _scaled(size, 2 * STRING_TRAVERSAL_COST_FACTOR), summary(size)


def _substring(vals, node, ctx):  # charged as a pass over the receiver; at most end - start long
    size = vals[0].size
    if len(node.args) == 2:
        starts, ends = _known_ints(vals, node, 0), _known_ints(vals, node, 1)
        if ends is not None:
            size = min(size, max(0, max(ends) - max(0, min(starts or (0,)))))
    return _scaled(vals[0].size), summary(size)


def _find(vals, node, ctx):
    size = vals[0].size
    result = summary(size + 1, summary(size)) if node.function == "findAll" else summary(size)
    return _regex_cost(vals[0], vals[1].size), result


def _format(vals, node, ctx):
    # Every argument prints in at most a few hundred characters plus its own length.
    args = ctx.elements(vals[1]) if len(vals) > 1 else BOTTOM
    size = vals[0].size + vals[1].size * (4 * args.size + 400) if len(vals) > 1 else vals[0].size
    return _scaled(size), summary(size)


def _quote(vals, node, ctx):
    return _scaled(vals[0].size), summary(2 * vals[0].size + 2)


def _traverse(vals, node, ctx):
    return (ctx.traversal(vals[0]) if vals else 0), None


def _containment(vals, node, ctx):
    cidr, other = vals[0].size, vals[1].size
    cost = _scaled(cidr + cidr) + _scaled(other)
    if node.function == "containsCIDR":
        cost += _scaled(cidr) + 1
    return cost, SCALAR


def _selector(vals, node, ctx):
    length = vals[-1].size
    requirements = _scaled(length, 0.5)
    return LIST_CREATE_BASE_COST + _scaled(length) + _scaled(requirements, LIST_CREATE_BASE_COST + STRUCT_CREATE_BASE_COST), None


def _ip(vals, node, ctx):
    if "cidr_ip" in node.overload_ids or node.target is not None:
        return 1, None
    return _scaled(vals[0].size), None


def _validate(vals, node, ctx):
    return _regex_cost(vals[-1], FORMAT_MAX_REGEX_SIZE), None


def _sets(vals, node, ctx):
    return max(1, vals[0].count * vals[1].count), SCALAR


def _passthrough(vals, node, ctx):  # dyn(x), optional.of(x), opt.value()
    return 1, vals[0] if vals else BOTTOM


def _either(vals, node, ctx):  # opt.or(other), opt.orValue(other)
    return 1, union(vals[0], vals[1]) if len(vals) > 1 else vals[0]


def _optional_select(vals, node, ctx):  # _?._ (x, 'field')
    field = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], Const) else None
    return 1, ctx.select(vals[0], field) if isinstance(field, str) else ctx.known(vals[0].elem)


def _known_ints(vals, node, position: int) -> "tuple[int, ...] | None":
    """The values an int argument takes when it is a literal or ints of the data."""
    arg = node.args[position]
    if isinstance(arg, Const) and type(arg.value) is int:
        return (arg.value,)
    value = vals[len(vals) - len(node.args) + position]
    if value.bound is None and value.cands and all(type(c) is int for c in value.cands):
        return value.cands
    return None


def _int_argument(vals, node, ctx, position: int) -> int:
    """The largest value an int argument can take: a literal, the ints of the data, or (computed,
    e.g. ``size(x)``) the largest size anywhere in the activation. An int of unresolved data
    (estimate_uniform) can be anything: MAX_LIST_SIZE sends the caller to the walk of the data."""
    known = _known_ints(vals, node, position)
    if known is not None:
        return max(max(known), 0)
    if vals[len(vals) - len(node.args) + position].is_bounded:
        return MAX_LIST_SIZE
    return ctx.top.size


def _allocating_list(size: float, factor: float = 1.0) -> int:
    # cel-go ext/lists.go trackAllocatingListCall: uint64(size * factor) + callCost + ListCreateBaseCost
    return min(COST_CAP, int(size * factor) + 1 + LIST_CREATE_BASE_COST)


def _list_subset(vals, node, ctx):  # slice, reverse: at most the receiver's elements
    size = vals[0].size
    if len(node.args) == 2:  # slice(start, end): end - start elements
        start = min(_known_ints(vals, node, 0) or (0,))
        size = max(0, min(size, _int_argument(vals, node, ctx, 1)) - max(start, 0))
    return _allocating_list(size), vals[0]


def _lists_range(vals, node, ctx):
    size = _int_argument(vals, node, ctx, 0)
    return _allocating_list(size), summary(size, SCALAR, None, 0)


def _list_flatten(vals, node, ctx):  # trackListFlatten: depth times the receiver's size
    depth = _int_argument(vals, node, ctx, 0) if node.args else 1
    receiver = vals[0]
    cost = _allocating_list(receiver.size, depth)
    if receiver.bound is None and all(isinstance(c, (list, tuple)) for c in receiver.cands):
        size = max((_flattened_size(c, depth) for c in receiver.cands), default=0)
        return cost, summary(size, ctx.top, None, 0)
    if depth > _FLATTEN_LEVELS:
        return cost, summary(MAX_LIST_SIZE, ctx.top, None, 0)
    # Each level multiplies the length by its longest list, and its items (lists or not) may
    # all end up in the result.
    count, level, elements = receiver.count, receiver, BOTTOM
    for _ in range(depth):
        level = ctx.elements(level)
        elements = union(elements, level)
        count = min(count * max(1, level.count), MAX_LIST_SIZE)
    return cost, summary(count, ctx.known(union(elements, ctx.elements(level))), None, 0)


_FLATTEN_LEVELS = 8  # deeper than any JSON a request holds within the bound's size classes


def _flattened_size(items, depth: int) -> int:
    if depth <= 0:
        return len(items)
    return sum(_flattened_size(i, depth - 1) if isinstance(i, (list, tuple)) else 1 for i in items)


def _list_self_compare(vals, node, ctx):  # trackListSelfCompare: distinct and sort, O(n^2)
    size = vals[0].size
    if node.overload_ids and all(o in _SORTS_OF_SCALARS for o in node.overload_ids):
        textual = False
    else:  # strings and bytes cost 0.1 more (cel-go looks at the first element)
        elements = ctx.elements(vals[0])
        textual = elements.bound is not None or any(isinstance(c, (str, bytes)) for c in elements.cands)
    return _allocating_list(size * size, 2 + (STRING_TRAVERSAL_COST_FACTOR if textual else 0)), vals[0]


# ext/lists.go comparableTypes by cel-go's TypeName(); strings and bytes cost 0.1 more to sort.
_SORTS_OF_SCALARS = tuple(f"list_{name}_sort" for name in (
    "int", "uint", "double", "bool", "google.protobuf.Duration", "google.protobuf.Timestamp",
))
_SORT_OVERLOADS = (*_SORTS_OF_SCALARS, "list_string_sort", "list_bytes_sort")


LIST_CONCATENATIONS = frozenset({"add_list"})

# cel-go checker/cost.go + interpreter/runtimecost.go, by overload id
_BY_OVERLOAD: dict[str, Handler] = {
    **dict.fromkeys(("starts_with_string", "ends_with_string", "string_to_bytes", "bytes_to_string"), _linear()),
    "in_list": lambda vals, node, ctx: (vals[1].count, SCALAR),
    **dict.fromkeys((
        "less_string", "greater_string", "less_equals_string", "greater_equals_string", "less_bytes",
        "greater_bytes", "less_equals_bytes", "greater_equals_bytes", "equals", "not_equals",
    ), _compare),
    **dict.fromkeys(("add_string", "add_bytes"), _concat_text),
    "add_list": _concat_list,
    **dict.fromkeys(("matches_string", "matches"), _matches),
    "contains_string": _contains,
    **dict.fromkeys(("index_list", "index_map"), _index),
    # cel-go ext/lists.go (version 3) cost trackers; library/ext_lists.py
    **dict.fromkeys(("list_slice", "list_reverse"), _list_subset),
    "lists_range": _lists_range,
    **dict.fromkeys(("list_flatten", "list_flatten_int"), _list_flatten),
    **dict.fromkeys(("list_distinct", *_SORT_OVERLOADS), _list_self_compare),
}

# k8s library/cost.go CallCost (keyed by function name there) and the strings extension
_BY_FUNCTION: dict[str, Handler] = {
    "check": _fixed(AUTHZ_CHECK_COST),
    **dict.fromkeys(("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf"), _traverse),
    **dict.fromkeys(("lowerAscii", "upperAscii", "trim", "charAt"), _linear(same_size=True)),
    "substring": _substring,
    **dict.fromkeys(("url", "cidr", "isIP", "isCIDR", "quantity", "isQuantity", "semver", "isSemver",
                     "jsonpatch.escapeKey"), _linear()),
    "ip.isCanonical": _linear(2 * STRING_TRAVERSAL_COST_FACTOR),
    "ip": _ip,
    "replace": _replace,
    "split": _split,
    "join": _join,
    **dict.fromkeys(("find", "findAll"), _find),
    **dict.fromkeys(("containsIP", "containsCIDR"), _containment),
    **dict.fromkeys(("fieldSelector", "labelSelector"), _selector),
    "validate": _validate,
    "format": _format,
    "strings.quote": _quote,
    **dict.fromkeys(("sets.contains", "sets.equivalent", "sets.intersects"), _sets),
    **dict.fromkeys(("dyn", "optional.of", "optional.ofNonZeroValue", "value"), _passthrough),
    **dict.fromkeys(("or", "orValue"), _either),
    "optional.none": lambda vals, node, ctx: (1, BOTTOM),
    "_?._": _optional_select,
    "_[?_]": _index,
}

# An unchecked expression (cross-type numeric comparisons) has no overload ids.
_UNCHECKED: dict[str, Handler] = {
    "_+_": _concat_any, "_==_": _compare, "_!=_": _compare, "_<_": _compare, "_<=_": _compare,
    "_>_": _compare, "_>=_": _compare, "@in": _BY_OVERLOAD["in_list"], "_[_]": _index,
    "matches": _matches, "contains": _contains, "startsWith": _linear(), "endsWith": _linear(),
}

_SCALAR_KINDS = frozenset({"bool", "int", "uint", "double", "null", "duration", "timestamp", "type"})
_SCALAR_FUNCTIONS = frozenset({
    "!_", "_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_", "@in", "size", "@not_strictly_false",
    "_-_", "_*_", "_/_", "_%_", "-_", "int", "uint", "double", "bool", "type", "hasValue",
})



def handlers_for(node: Call) -> tuple[Handler | None, ...]:
    """One handler per overload the checker left possible (None: cel-go's nominal cost of 1)."""
    found = tuple(_BY_OVERLOAD.get(o) or _BY_FUNCTION.get(node.function) for o in node.overload_ids)
    return found or (_BY_FUNCTION.get(node.function) or _UNCHECKED.get(node.function),)


def apply(handler: Handler, vals: Sequence[AbstractValue], node: Call, ctx: Data) -> "tuple[int, AbstractValue | None]":
    """Run ``handler``; a same-named function of another arity is charged a pass over its operands."""
    try:
        return handler(vals, node, ctx)
    except (IndexError, ZeroDivisionError):
        return max(1, sum(v.size for v in vals)), None


def returns_scalar(node: Call) -> bool:
    """Whether the call's result has no size beyond 1 (numbers, booleans, timestamps, ...)."""
    return node.type.kind in _SCALAR_KINDS or node.function in _SCALAR_FUNCTIONS


def default_result(node: Call, vals: Sequence[AbstractValue]) -> AbstractValue:
    if returns_scalar(node):
        return SCALAR
    # Library results (strings, lists, opaque values) are bounded by their inputs; numbers and
    # timestamps print in under 32 characters.
    return bounded(max(1, sum(v.size for v in vals)) + 32)
