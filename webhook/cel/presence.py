"""Presence tests on null and scalars, evaluated the way kube-apiserver evaluates them.

cel-go answers ``has(x.f)`` with ``false`` and ``x.?f`` with ``optional.none()`` when ``x`` is
null or a scalar, because kube-apiserver leaves EnableErrorOnBadPresenceTest off
(cel-go interpreter/attributes.go, refQualify). cel-cpp fails the evaluation instead, which
matters for ValidatingAdmissionPolicy: ``oldObject`` is null on CREATE, ``namespaceObject`` for
cluster-scoped objects, ``params`` without a paramRef. So the environment compiles a rewritten
source in which each such test first checks the operand's type::

    has(E.f)  ->  [E].all(__celgate_p0, type(__celgate_p0) in [map, list] ? has(__celgate_p0.f) : false)
    E.?f      ->  [E].map(__celgate_p1, type(__celgate_p1) in [map, list, <optional>]
                                          ? __celgate_p1.?f : optional.none())[0]

Maps and lists keep cel-cpp's own behaviour (lists still fail, as in cel-go), and ``E`` is
evaluated once. The operand is bound by a one-element comprehension, never by ``cel.bind``:
cel-cpp's lazily initialised ``cel.bind`` slot can read a stale value after a short-circuited
comprehension (compat.py D30), while a comprehension's iteration variable is written on every
iteration. A one-element ``all`` is its body, errors included. Spans are located from the checked AST's offsets and a small CEL tokenizer;
anything the tokenizer cannot account for exactly is left as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webhook.cel.ast import Call, CheckedAst, Const, Select

_BINDING = "__celgate_p"
_OPTIONAL_TYPE = "type(optional.none())"


@dataclass(frozen=True)
class Token:
    kind: str  # ident | literal | punct
    text: str
    start: int
    end: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<literal>
        (?:[rR][bB]?|[bB][rR]?)?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^\\'\n])*'|"(?:\\.|[^\\"\n])*")
      | 0[xX][0-9a-fA-F]+[uU]?
      | (?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?
    )
  | (?P<punct>==|!=|<=|>=|&&|\|\||\bin\b|[-+*/%!<>?:,.()\[\]{}])
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*|`[^`]*`)
    """,
    re.VERBOSE | re.DOTALL,
)
_OPENERS = {")": "(", "]": "[", "}": "{"}


def tokenize(source: str) -> list[Token] | None:
    """CEL tokens of ``source`` (comments and spaces dropped), or None if it has a stray character."""
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            return None
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    return tokens


def _matching_close(tokens: list[Token], open_index: int) -> int | None:
    depth = 0
    for index in range(open_index, len(tokens)):
        text = tokens[index].text if tokens[index].kind == "punct" else ""
        if text in ("(", "[", "{"):
            depth += 1
        elif text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return index
    return None


def _matching_open(tokens: list[Token], close_index: int) -> int | None:
    depth = 0
    for index in range(close_index, -1, -1):
        text = tokens[index].text if tokens[index].kind == "punct" else ""
        if text in (")", "]", "}"):
            depth += 1
        elif text in ("(", "[", "{"):
            depth -= 1
            if depth == 0:
                return index
    return None


def _is(token: Token | None, text: str) -> bool:
    return token is not None and token.kind == "punct" and token.text == text


def _operand_start(tokens: list[Token], end: int) -> int | None:
    """Index of the first token of the postfix chain that ends at token ``end`` (inclusive)."""
    index = end
    while index >= 0:
        token = tokens[index]
        if token.kind == "punct" and token.text in _OPENERS:
            opener = _matching_open(tokens, index)
            if opener is None:
                return None
            previous = tokens[opener - 1] if opener > 0 else None
            chained = previous is not None and (
                previous.kind in ("ident", "literal") or (previous.kind == "punct" and previous.text in _OPENERS)
            )
            if not chained:
                return opener  # a parenthesised expression or a list/map literal
            index = opener - 1
            continue
        if token.kind not in ("ident", "literal"):
            return None
        previous = tokens[index - 1] if index > 0 else None
        if _is(previous, "?") and index >= 2 and _is(tokens[index - 2], "."):
            index -= 3  # receiver.?field
        elif _is(previous, "."):
            index -= 2  # receiver.field or receiver.method(...)
        else:
            return index
    return None


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def _has_edit(source: str, tokens: list[Token], node: Select, number: int, starts: dict[int, int]) -> _Edit | None:
    open_index = starts.get(node.offset)
    if open_index is None or not _is(tokens[open_index], "(") or open_index == 0:
        return None
    if tokens[open_index - 1].text != "has":
        return None
    close = _matching_close(tokens, open_index)
    if close is None or close - open_index < 4:
        return None
    field, dot = tokens[close - 1], tokens[close - 2]
    if not _is(dot, ".") or field.kind != "ident" or field.text.strip("`") != node.field:
        return None
    if _operand_start(tokens, close - 3) != open_index + 1:
        return None
    operand = source[tokens[open_index + 1].start:dot.start]
    name = f"{_BINDING}{number}"
    text = f"[{operand}].all({name}, type({name}) in [map, list] ? has({name}.{field.text}) : false)"
    return _Edit(tokens[open_index - 1].start, tokens[close].end, text)


def _optional_select_edit(source: str, tokens: list[Token], node: Call, number: int, starts: dict[int, int]) -> _Edit | None:
    dot_index = starts.get(node.offset)
    if dot_index is None or dot_index == 0 or dot_index + 2 >= len(tokens):
        return None
    question, field = tokens[dot_index + 1], tokens[dot_index + 2]
    expected = node.args[1].value if len(node.args) == 2 and isinstance(node.args[1], Const) else None
    if not (_is(tokens[dot_index], ".") and _is(question, "?")) or field.text.strip("`") != expected:
        return None
    start = _operand_start(tokens, dot_index - 1)
    if start is None:
        return None
    operand = source[tokens[start].start:tokens[dot_index].start]
    name = f"{_BINDING}{number}"
    text = (f"[{operand}].map({name}, type({name}) in [map, list, {_OPTIONAL_TYPE}]"
            f" ? {name}.?{field.text} : optional.none())[0]")
    return _Edit(tokens[start].start, field.end, text)


def rewrite(ast: CheckedAst) -> str | None:
    """The expression with its presence tests guarded, or None when nothing needs (or can) change."""
    tests = [
        node for node in ast.walk()
        if (isinstance(node, Select) and node.test_only)
        # an optional receiver is left alone: cel-cpp already propagates none
        or (isinstance(node, Call) and node.function == "_?._" and node.target is None
            and not (node.args and node.args[0].type.kind == "optional"))
    ]
    source = ast.expression
    tokens = tokenize(source) if tests else None
    if tokens is None:
        return None
    edits: list[_Edit] = []
    starts = {token.start: index for index, token in enumerate(tokens)}
    for node in tests:
        if isinstance(node, Select):
            edit = _has_edit(source, tokens, node, len(edits), starts)
        elif isinstance(node, Call):
            edit = _optional_select_edit(source, tokens, node, len(edits), starts)
        else:
            continue
        if edit is not None:
            edits.append(edit)
    # Nested tests overlap; keep the outermost of each nest (inner ones then run as cel-cpp's).
    kept: list[_Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, -e.end)):
        if kept and edit.start < kept[-1].end:
            continue
        kept.append(edit)
    if not kept:
        return None
    out = []
    position = 0
    for edit in kept:
        out.append(source[position:edit.start])
        out.append(edit.text)
        position = edit.end
    out.append(source[position:])
    return "".join(out)
