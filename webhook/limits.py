"""How much input celgate accepts, and the one check that holds parsed JSON to it.

Every limit on what a caller or a manifest author can hand celgate lives here, so a reader
finds them in one place (docs/limits.md is the same table for users). Where kube-apiserver has
a limit of its own we take its value; where it has none, or Python cannot go as far as Go, the
value is ours and the reason is given.

- ``MAX_REVIEW_BODY_BYTES`` (3 MiB): kube-apiserver's ``MaxRequestBodyBytes``
  (staging/src/k8s.io/apiserver/pkg/server/config.go: twice etcd's recommended 1.5 MiB request,
  for JSON's overhead over protobuf). ``celgate serve --max-body-bytes`` changes it; over it: 413.
- ``MAX_NESTING_DEPTH`` (200): ours. Go's encoding/json (and sigs.k8s.io/json) and go-yaml's
  scanner stop at 10,000 levels, but Python's JSON decoder recurses once a level and stops near
  the interpreter's recursion limit (1,000), and copying objects into CEL recurses too. Real
  objects nest a few dozen levels; the deepest custom resources well under 200.
- ``MAX_STRING_LENGTH`` (1.5 Mi characters): etcd's default ``--max-request-bytes`` (1.5 MiB);
  no object the API server can store holds a longer string, so no real request carries one.
- ``MAX_LIST_LENGTH`` (1,000,000 items): kube-apiserver's per-expression CEL cost limit
  (``PerCallLimit``, staging/src/k8s.io/apiserver/pkg/apis/cel/config.go); no rule can visit
  more items than that within its budget.
- ``MAX_MANIFEST_BYTES`` (64 MiB): ours, for files read by ``celgate test``, ``eval``, ``scan``
  and the policy loader (kubectl has no limit; the largest install bundles are a few MiB).
- ``MAX_DOCUMENTS`` (10,000 per file or stream): ours; a stream that long is a generated dump,
  and kubectl's List form (one document) is not counted against it.
- ``MAX_ALIAS_NODES`` (400,000 per YAML document): go-yaml's ``allowedAliasRatio`` (decode.go,
  the billion-laughs fix Kubernetes' sigs.k8s.io/yaml carries), which lets at most ~400,000 of a
  document's decode operations come from expanding aliases. Aliases within it are accepted, as
  the API server's decoder accepts them; an alias inside its own anchor (a cycle) is refused.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

MAX_REVIEW_BODY_BYTES = 3 * 1024 * 1024
MAX_NESTING_DEPTH = 200
MAX_STRING_LENGTH = 3 * 512 * 1024
MAX_LIST_LENGTH = 1_000_000
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_DOCUMENTS = 10_000
MAX_ALIAS_NODES = 400_000


class LimitExceeded(Exception):
    """Input over one of this module's limits; ``limit`` names the constant, ``value`` its value."""

    def __init__(self, limit: str, value: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.message = message


def nesting_exceeded(where: str) -> LimitExceeded:
    return LimitExceeded("MAX_NESTING_DEPTH", MAX_NESTING_DEPTH,
                         f"{where} nests arrays and objects deeper than {MAX_NESTING_DEPTH} levels "
                         "(MAX_NESTING_DEPTH)")


def check_json_value(value: Any, where: str, *, largest_possible: int | None = None, decoded_json: bool = False,
                     containers: int | None = None) -> None:
    """Raise :class:`LimitExceeded` unless ``value`` is plain JSON data within the limits.

    Plain JSON data: dicts with string keys, lists, strings, ints, finite floats, booleans and
    None (YAML can also make bytes, sets, dates and NaN, which JSON cannot say). ``where`` starts
    every message. ``largest_possible`` is the length of the text ``value`` was parsed from:
    strings and lists longer than that text cannot exist, so their checks are skipped, which keeps
    the common small request to a walk over its containers. ``decoded_json`` says ``value`` came
    from a JSON decoder that refuses NaN, so only its shape needs checking; ``containers``, the
    count of ``[`` and ``{`` in its text, bounds its depth, so a text with few needs no walk.
    """
    check_strings = largest_possible is None or largest_possible > MAX_STRING_LENGTH
    check_lists = largest_possible is None or largest_possible > MAX_LIST_LENGTH
    if decoded_json and not check_strings and not check_lists:
        if containers is not None and containers <= MAX_NESTING_DEPTH:
            return
        if _deeper_than(value, MAX_NESTING_DEPTH):
            raise nesting_exceeded(where)
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise nesting_exceeded(where)
        if isinstance(current, dict):
            children: Any = current.values()
            for key in current:
                if not isinstance(key, str):
                    raise _located(value, where, lambda v: v is key, _key_problem(key))
                if check_strings and len(key) > MAX_STRING_LENGTH:
                    raise _string_too_long(value, where, key)
        elif isinstance(current, list):
            children = current
            if check_lists and len(current) > MAX_LIST_LENGTH:
                raise _located(value, where, lambda v: v is current,
                               f"an array of {len(current):,} items is longer than the limit of "
                               f"{MAX_LIST_LENGTH:,} (MAX_LIST_LENGTH)", limit="MAX_LIST_LENGTH")
        else:
            _check_scalar(value, where, current, check_strings)
            continue
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            else:
                _check_scalar(value, where, child, check_strings)


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether any array or object in ``document`` is nested more than ``limit`` levels deep."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values() if isinstance(item, (dict, list)))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return False


def _check_scalar(root: Any, where: str, scalar: Any, check_strings: bool) -> None:
    if isinstance(scalar, str):
        if check_strings and len(scalar) > MAX_STRING_LENGTH:
            raise _string_too_long(root, where, scalar)
    elif isinstance(scalar, float):
        if not math.isfinite(scalar):
            raise _located(root, where, lambda v: v is scalar, f"{scalar!r} is not a JSON number",
                           limit="JSON")
    elif not (scalar is None or isinstance(scalar, (bool, int))):
        raise _located(root, where, lambda v: v is scalar,
                       f"a {type(scalar).__name__} value has no JSON form (use a string)", limit="JSON")


def _key_problem(key: Any) -> str:
    return f"a key of type {type(key).__name__} ({key!r:.40}); object keys must be strings"


def _string_too_long(root: Any, where: str, text: str) -> LimitExceeded:
    return _located(root, where, lambda v: v is text,
                    f"a string of {len(text):,} characters is longer than the limit of "
                    f"{MAX_STRING_LENGTH:,} (MAX_STRING_LENGTH)", limit="MAX_STRING_LENGTH")


def _located(root: Any, where: str, is_it: Any, problem: str, *, limit: str = "JSON") -> LimitExceeded:
    """The error for the first value ``is_it`` accepts, named by its path (found only on failure)."""
    path = next((p for v, p in _walk(root) if is_it(v)), "")
    values = {"MAX_STRING_LENGTH": MAX_STRING_LENGTH, "MAX_LIST_LENGTH": MAX_LIST_LENGTH}
    return LimitExceeded(limit, values.get(limit, 0), f"{where}{' at ' + path if path else ''}: {problem}")


def _walk(root: Any) -> Iterator[tuple[Any, str]]:
    """Every value and key under ``root`` with its path (``spec.containers[0].image``)."""
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        value, path = stack.pop()
        yield value, path
        if isinstance(value, dict):
            for key, item in value.items():
                name = str(key) if len(str(key)) <= 40 else f"{str(key)[:37]}..."
                child = f"{path}.{name}" if path else name
                yield key, child
                stack.append((item, child))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
