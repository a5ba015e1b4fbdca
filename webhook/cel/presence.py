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
    """Replace ``source[start:end]`` by ``template``, in which ``{operand}`` (and ``{key}``)
    stand for the source spans given, themselves rewritten (tests nest: ``a.?b.?c``)."""

    start: int
    end: int
    template: str
    operand: tuple[int, int]
    key: tuple[int, int] | None = None


def _guard(name: str, test: str) -> str:
    """``test`` on the bound ``name`` where it is a map or a list (cel-cpp's own answer, errors
    included), else none; an optional operand by its value (an optional of null is none too).
    The operand is bound as ``dyn``, so that the branches type-check whatever its static type."""
    return (f"type({name}) == {_OPTIONAL_TYPE} ? ({name}.hasValue() && type({name}.value()) in [map, list]"
            f" ? {test} : optional.none()) : (type({name}) in [map, list] ? {test} : optional.none())")


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
    name = f"{_BINDING}{number}"
    template = f"[{{operand}}].all({name}, type({name}) in [map, list] ? has({name}.{field.text}) : false)"
    return _Edit(tokens[open_index - 1].start, tokens[close].end, template, (tokens[open_index + 1].start, dot.start))


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
    name = f"{_BINDING}{number}"
    template = f"[dyn({{operand}})].map({name}, {_guard(name, f'{name}.?{field.text}')})[0]"
    return _Edit(tokens[start].start, field.end, template, (tokens[start].start, tokens[dot_index].start))


def _optional_index_edit(source: str, tokens: list[Token], node: Call, number: int, starts: dict[int, int]) -> _Edit | None:
    bracket = starts.get(node.offset)
    if bracket is None or bracket == 0 or bracket + 2 >= len(tokens):
        return None
    if not (_is(tokens[bracket], "[") and _is(tokens[bracket + 1], "?")):
        return None
    close = _matching_close(tokens, bracket)
    start = _operand_start(tokens, bracket - 1)
    if close is None or start is None or close <= bracket + 2:
        return None
    name, key = f"{_BINDING}{number}", f"{_BINDING}{number}k"
    # The key is evaluated whatever the operand is (its errors surface, as in cel-go), then again
    # in place: cel-cpp's optional index refuses a key it only knows as dyn.
    template = f"[dyn({{operand}})].map({name}, [{{key}}].map({key}, {_guard(name, f'{name}[?{{key}}]')})[0])[0]"
    return _Edit(tokens[start].start, tokens[close].end, template, (tokens[start].start, tokens[bracket].start),
                 (tokens[bracket + 2].start, tokens[close - 1].end))


def _render(source: str, start: int, end: int, edits: list[_Edit]) -> str:
    """``source[start:end]`` with the edits inside it applied, nested ones inside their operands."""
    out: list[str] = []
    position = start
    for edit in edits:
        if edit.start < position or edit.end > end:
            continue  # inside an edit already rendered, or outside this span
        out.append(source[position:edit.start])
        inner = [e for e in edits if e is not edit and edit.start <= e.start and e.end <= edit.end]
        parts = {"operand": _render(source, *edit.operand, inner)}
        if edit.key is not None:
            parts["key"] = _render(source, *edit.key, inner)
        out.append(edit.template.format(**parts))
        position = edit.end
    out.append(source[position:end])
    return "".join(out)


def rewrite(ast: CheckedAst) -> str | None:
    """The expression with its presence tests guarded, or None when nothing needs (or can) change."""
    tests = [
        node for node in ast.walk()
        if (isinstance(node, Select) and node.test_only)
        or (isinstance(node, Call) and node.function in ("_?._", "_[?_]") and node.target is None)
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
        elif isinstance(node, Call) and node.function == "_?._":
            edit = _optional_select_edit(source, tokens, node, len(edits), starts)
        elif isinstance(node, Call):
            edit = _optional_index_edit(source, tokens, node, len(edits), starts)
        else:
            continue
        if edit is not None:
            edits.append(edit)
    if not edits:
        return None
    edits.sort(key=lambda e: (e.start, -e.end))
    return _render(source, 0, len(source), edits)
