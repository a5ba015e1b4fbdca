"""``optMap`` and ``optFlatMap`` without cel-cpp's lazily bound slot.

cel-cpp expands ``opt.optMap(v, body)`` into a ``cel.bind``-shaped comprehension (an empty
range, a constant false loop condition, ``v`` as the accumulator), which its planner
initialises lazily; after a short-circuited comprehension that slot can hold a stale value
(compat.py D30), so ``[1, 2].all(k, k == 2) ? 0 : optional.of('x').optMap(p, p).value()`` reads
``2``. The source is rewritten so that ``v`` is a comprehension's iteration variable, which is
written on every iteration::

    R.optMap(v, B)      ->  [R].map(__celgate_oN, __celgate_oN.hasValue()
                                ? optional.of([__celgate_oN.value()].map(v, B)[0]) : optional.none())[0]
    R.optFlatMap(v, B)  ->  [R].map(__celgate_oN, __celgate_oN.hasValue()
                                ? [__celgate_oN.value()].map(v, B)[0] : optional.none())[0]

which is cel-go's expansion (``R.hasValue() ? optional.of(B[v := R.value()]) : optional.none()``)
with ``R`` evaluated once.
"""

from __future__ import annotations

import itertools

from webhook.cel.lexer import Token, is_punct, matching_close, operand_start, tokenize

_MACROS = ("optMap", "optFlatMap")
_NAME = "__celgate_o"


def _split_arguments(tokens: list[Token], open_index: int, close_index: int) -> list[tuple[int, int]] | None:
    """Token index ranges [start, end) of the top-level arguments between the parentheses."""
    ranges, depth, start = [], 0, open_index + 1
    for index in range(open_index + 1, close_index):
        token = tokens[index]
        if token.kind != "punct":
            continue
        if token.text in ("(", "[", "{"):
            depth += 1
        elif token.text in (")", "]", "}"):
            depth -= 1
        elif token.text == "," and depth == 0:
            ranges.append((start, index))
            start = index + 1
    ranges.append((start, close_index))
    return ranges if all(a < b for a, b in ranges) else None


def rewrite(source: str) -> str | None:
    """The source with every optMap/optFlatMap rewritten, or None when there is none (or a use
    this rewrite cannot account for exactly, which then stays as written)."""
    if not any(macro in source for macro in _MACROS):
        return None
    counter = itertools.count()
    result = _rewrite(source, counter)
    return None if result == source else result


def _rewrite(source: str, counter: "itertools.count[int]") -> str:
    tokens = tokenize(source)
    if tokens is None:
        return source
    for index in range(len(tokens) - 2, 0, -1):  # the last one first: earlier spans stay valid
        dot, name, opener = tokens[index - 1], tokens[index], tokens[index + 1]
        if not (is_punct(dot, ".") and name.kind == "ident" and name.text in _MACROS and is_punct(opener, "(")):
            continue
        close = matching_close(tokens, index + 1)
        start = operand_start(tokens, index - 2)
        if close is None or start is None:
            continue
        arguments = _split_arguments(tokens, index + 1, close)
        if arguments is None or len(arguments) != 2 or arguments[0][1] - arguments[0][0] != 1:
            continue
        variable = tokens[arguments[0][0]]
        if variable.kind != "ident":
            continue
        receiver = _rewrite(source[tokens[start].start:dot.start], counter)
        body_first, body_last = tokens[arguments[1][0]], tokens[arguments[1][1] - 1]
        body = _rewrite(source[body_first.start:body_last.end], counter)
        slot = f"{_NAME}{next(counter)}"
        mapped = f"[{slot}.value()].map({variable.text}, (\n{body}\n))[0]"
        if name.text == "optMap":
            mapped = f"optional.of({mapped})"
        text = f"[(\n{receiver}\n)].map({slot}, {slot}.hasValue() ? {mapped} : optional.none())[0]"
        return _rewrite(source[:tokens[start].start] + text + source[tokens[close].end:], counter)
    return source
