"""What the cost estimator knows of the values an expression can take.

An :class:`AbstractValue` is the union of *concrete candidates* (nodes of the activation's plain
data, or literals) and an optional *summary*: an upper bound of the size (string length, list or
map entry count), a lower bound, and summaries of the elements (list items / map values) and of
the map keys. ``object.spec.containers`` is one concrete candidate; a comprehension variable over
it is the containers themselves, all at once; ``x + y`` is a summary of size
``size(x) + size(y)``. Selecting a field keeps candidates precise, so ``c.image`` inside
``containers.all(c, ...)`` is exactly the images of the Pod.
"""

from __future__ import annotations

from typing import Any, Mapping

from webhook.cel.values import survey

SIZED = (str, bytes, list, tuple, dict)
_PLAIN = (str, bytes, list, tuple, dict, int, float, bool, type(None))
_MISSING = object()


def size_of(value: Any) -> int:
    """cel-go's size() of a plain value; anything that is not a string/bytes/list/map is 1."""
    return len(value) if isinstance(value, SIZED) else 1


class AbstractValue:
    __slots__ = ("cands", "bound", "floor", "elem", "key", "items", "limit", "_max", "_min")

    def __init__(self, cands: tuple = (), bound: int | None = None, floor: int = 0,
                 elem: "AbstractValue | None" = None, key: "AbstractValue | None" = None) -> None:
        self.cands = cands
        self.bound = bound  # summary size bound; None = no summary part
        self.floor = floor  # summary lower size bound
        self.elem = elem  # summary of list items / map values; None = unknown
        self.key = key  # summary of map keys; None = unknown
        self.items: "tuple[AbstractValue, ...] | None" = None  # a list literal's elements, by position
        self.limit: int | None = None  # a bounded value's bound on list and map lengths (see count)
        self._max: int | None = None
        self._min: int | None = None

    @property
    def size(self) -> int:
        """Upper bound of cel-go's size() of any value this stands for."""
        if self._max is None:
            largest = max(map(size_of, self.cands), default=0)
            self._max = largest if self.bound is None else max(largest, self.bound)
        return self._max

    @property
    def count(self) -> int:
        """Upper bound of how many elements it has as a list or map (what a comprehension over
        it iterates): its size, except for bounded data whose lists are shorter than its strings."""
        if self.limit is None:
            return self.size
        return max(max(map(size_of, self.cands), default=0), self.limit)

    @property
    def min_size(self) -> int:
        if self._min is None:
            smallest = min(map(size_of, self.cands), default=None)
            if self.bound is not None:
                smallest = self.floor if smallest is None else min(smallest, self.floor)
            self._min = smallest or 0
        return self._min

    @property
    def is_bounded(self) -> bool:
        """Whether this is a :func:`bounded` value (its own element summary)."""
        return self.elem is self


BOTTOM = AbstractValue()  # no value: an empty list's elements, a missing field
SCALAR = AbstractValue((), 1, 1, BOTTOM, BOTTOM)


def concrete(values: list | tuple) -> AbstractValue:
    if len(values) > 32:  # the same data node reached twice is one candidate
        values = list({id(v): v for v in values}.values())
    return AbstractValue(tuple(values))


def summary(size: int, elem: AbstractValue | None = BOTTOM, key: AbstractValue | None = None,
            min_size: int = 0) -> AbstractValue:
    return AbstractValue((), size, min_size, elem, key)


def bounded(size: int, cands: tuple = (), count: int | None = None) -> AbstractValue:
    """Any value whose every string, list and map is at most ``size`` long, at any depth, and
    (with ``count``) every list and map at most ``count`` long."""
    value = AbstractValue(cands, size)
    value.elem = value.key = value
    if count is not None and count < size:
        value.limit = count
    return value


def largest_sizes(value: Any) -> tuple[int, int]:
    """(the largest string, list or map, the largest list or map) anywhere in plain data; 1 for
    scalars: the two size classes of the uniform cost bound (cost.estimate_uniform), from the one
    walk requests make too (values.survey)."""
    found = survey(value)
    return found.largest, found.collection


def largest_size(value: Any) -> int:
    """The largest string, list or map anywhere in plain data (keys included); 1 for a scalar."""
    return largest_sizes(value)[0]


def deep_max(value: AbstractValue | None) -> int:
    """The largest size anywhere inside ``value``."""
    if value is None:
        return 0
    largest = max(map(largest_size, value.cands), default=0)
    if value.bound is not None:
        largest = max(largest, value.bound)
        if not value.is_bounded:
            largest = max(largest, deep_max(value.elem), deep_max(value.key))
    return largest


def union(a: AbstractValue | None, b: AbstractValue | None) -> AbstractValue | None:
    """A value standing for everything ``a`` and ``b`` stand for (None = unknown)."""
    if a is None or b is None:
        return None
    if a is b or b is BOTTOM or (not b.cands and b.bound is None):
        return a
    if a is BOTTOM or (not a.cands and a.bound is None):
        return b
    cands = a.cands + b.cands if a.cands and b.cands else a.cands or b.cands
    if a.bound is None and b.bound is None:
        return concrete(cands)
    if a.is_bounded or b.is_bounded:
        counts = [v.limit if v.limit is not None else deep_max(_summary_part(v)) for v in (a, b) if v.bound is not None]
        return bounded(max(deep_max(_summary_part(a)), deep_max(_summary_part(b))), tuple(cands), max(counts, default=None))
    if a.bound is None or b.bound is None:
        part = a if b.bound is None else b
        return AbstractValue(tuple(cands), part.bound, part.floor, part.elem, part.key)
    return AbstractValue(
        tuple(cands), max(a.bound, b.bound), min(a.floor, b.floor), union(a.elem, b.elem), union(a.key, b.key)
    )


def _summary_part(value: AbstractValue) -> AbstractValue:
    if value.bound is None:
        return BOTTOM
    return value if value.is_bounded else AbstractValue((), value.bound, value.floor, value.elem, value.key)


def items_of(value: AbstractValue) -> AbstractValue | None:
    """List items and map values (what ``+`` on lists and ``[?]`` carry over)."""
    out: list = []
    for cand in value.cands:
        if isinstance(cand, (list, tuple)):
            out.extend(cand)
        elif isinstance(cand, dict):
            out.extend(cand.values())
        elif not isinstance(cand, _PLAIN):
            return None
    part = value.elem if value.bound is not None else BOTTOM
    return union(concrete(out), part)


class Data:
    """The activation, and the fallback for data the estimator cannot resolve."""

    def __init__(self, activation: Mapping[str, Any]) -> None:
        self.activation = activation
        self._top: AbstractValue | None = None

    @property
    def top(self) -> AbstractValue:
        """Unresolvable data: bounded by the largest string/list/map anywhere in the activation."""
        if self._top is None:
            self._top = bounded(max(1, deep_max(AbstractValue(tuple(self.activation.values())))))
        return self._top

    def known(self, value: AbstractValue | None) -> AbstractValue:
        return self.top if value is None else value

    def _gather(self, value: AbstractValue, pick, summary_part: AbstractValue | None) -> AbstractValue:
        out: list = []
        for cand in value.cands:
            if isinstance(cand, (list, tuple, dict)):
                pick(cand, out)
            elif not isinstance(cand, _PLAIN):
                return self.top  # an object the estimator cannot look into
        found = concrete(out)
        if value.bound is None:
            return found
        return self.known(union(found, summary_part))

    def elements(self, value: AbstractValue) -> AbstractValue:
        """What a comprehension variable ranges over: list items or map keys."""
        out: list = []
        for cand in value.cands:
            if isinstance(cand, (list, tuple, dict)):
                out.extend(cand)  # a dict iterates its keys
            elif not isinstance(cand, _PLAIN):
                return self.top
        found = concrete(out)
        if value.bound is None:
            return found
        return self.known(union(found, value.elem if value.key is None else union(value.key, value.elem)))

    def select(self, value: AbstractValue, field: str) -> AbstractValue:
        # The hottest path of an estimate: inlined rather than built on _gather.
        out: list = []
        for cand in value.cands:
            if isinstance(cand, dict):
                found = cand.get(field, _MISSING)
                if found is not _MISSING:
                    out.append(found)
            elif not isinstance(cand, _PLAIN):
                return self.top
        found_value = concrete(out)
        return found_value if value.bound is None else self.known(union(found_value, value.elem))

    def index(self, value: AbstractValue, key: AbstractValue) -> AbstractValue:
        keys = key.cands if key.bound is None else None
        if value.items is not None and not value.cands and keys is not None and len(keys) == 1 \
                and type(keys[0]) is int and 0 <= keys[0] < len(value.items):
            return value.items[keys[0]]  # a list literal indexed by a constant (policy/plan.py)

        def pick(cand, out):
            if isinstance(cand, dict):
                try:
                    out.extend(cand[k] for k in keys if k in cand) if keys is not None else out.extend(cand.values())
                except TypeError:  # an unhashable key from the data
                    out.extend(cand.values())
            elif keys is None:
                out.extend(cand)
            else:
                positions = (int(k) for k in keys if isinstance(k, (int, float)) and float(k).is_integer())
                out.extend(cand[p] for p in positions if 0 <= p < len(cand))
        return self._gather(value, pick, value.elem)

    def traversal(self, value: AbstractValue) -> int:
        """k8s library traversalCost of the dearest candidate (isSorted, sum, indexOf, ...)."""
        cost = max((_traversal_cost(c) for c in value.cands), default=0)
        if value.bound is not None:
            elem = self.top if value.elem is None or value.is_bounded else value.elem
            cost = max(cost, value.count * max(1, int(elem.size * 0.1)))
        return cost


def _traversal_cost(value: Any) -> int:
    if isinstance(value, (str, bytes)):
        return int(len(value) * 0.1)
    if isinstance(value, (list, tuple)):
        return sum(_traversal_cost(v) for v in value)
    if isinstance(value, dict):
        return sum(_traversal_cost(k) + _traversal_cost(v) for k, v in value.items())
    return 1
