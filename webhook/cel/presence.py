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
iteration. A one-element ``all`` is its body, errors included. Spans are located from the
checked AST's offsets and the CEL lexer (lexer.py); anything it cannot account for exactly is
left as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.cel.ast import Call, CheckedAst, Const, Select
from webhook.cel.lexer import Token, is_punct, matching_close, operand_start, tokenize

_BINDING = "__celgate_p"
_OPTIONAL_TYPE = "type(optional.none())"


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
    if open_index is None or not is_punct(tokens[open_index], "(") or open_index == 0:
        return None
    if tokens[open_index - 1].text != "has":
        return None
    close = matching_close(tokens, open_index)
    if close is None or close - open_index < 4:
        return None
    field, dot = tokens[close - 1], tokens[close - 2]
    if not is_punct(dot, ".") or field.kind not in ("ident", "quoted") or field.text.strip("`") != node.field:
        return None
    if operand_start(tokens, close - 3) != open_index + 1:
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
    if not (is_punct(tokens[dot_index], ".") and is_punct(question, "?")) or field.text.strip("`") != expected:
        return None
    start = operand_start(tokens, dot_index - 1)
    if start is None:
        return None
    name = f"{_BINDING}{number}"
    template = f"[dyn({{operand}})].map({name}, {_guard(name, f'{name}.?{field.text}')})[0]"
    return _Edit(tokens[start].start, field.end, template, (tokens[start].start, tokens[dot_index].start))


def _optional_index_edit(source: str, tokens: list[Token], node: Call, number: int, starts: dict[int, int]) -> _Edit | None:
    bracket = starts.get(node.offset)
    if bracket is None or bracket == 0 or bracket + 2 >= len(tokens):
        return None
    if not (is_punct(tokens[bracket], "[") and is_punct(tokens[bracket + 1], "?")):
        return None
    close = matching_close(tokens, bracket)
    start = operand_start(tokens, bracket - 1)
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
