"""Hypothesis strategies for JSON values and for mutating a document at a path."""

from __future__ import annotations

import copy
from typing import Any, Iterator

from hypothesis import strategies as st

Path = tuple[Any, ...]

json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into ``value`` (the root first), keys and indexes in order."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def get(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def replaced(value: Any, path: Path, new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``path``."""
    if not path:
        return new
    result = copy.deepcopy(value)
    get(result, path[:-1])[path[-1]] = new
    return result


def deleted(value: Any, path: Path) -> Any:
    """A copy of ``value`` without the item at ``path`` (not the root)."""
    result = copy.deepcopy(value)
    del get(result, path[:-1])[path[-1]]
    return result


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def other_type_values(original: Any) -> st.SearchStrategy[Any]:
    """A value of another JSON type than ``original``: the type confusion a schema would refuse."""
    return json_values.filter(lambda v: json_type(v) != json_type(original))
