"""When a filter reads a variable: the branch conditions on the way to each read.

kube-apiserver evaluates ``spec.variables`` lazily: a variable read only in the branch of a
conditional that is not taken is never evaluated (admission/plugin/cel/composition.go). The
filter plan (plan.py) evaluates its variables eagerly, which is the same exactly when nothing
fails, but costs the time of every variable, needed or not: a policy whose messages are built
from variables of their own (the shipped Pod Security policies build one per check) pays for
messages it never shows. So each variable of a plan carries a *guard*, the condition under which
some read of it can be reached, and is computed only under it::

    (G) ? dyn(<the variable>) : dyn(null)

A guard is a disjunction of conjunctions of the conditions (``c ? T : E``: ``c`` for reads in
``T``, ``!c`` for reads in ``E``) that lead to a read, each conjunction prefixed with the guard of
the variable doing the reading. It is necessary, not sufficient: when it is false no read is
reached and the placeholder is never seen; when it is true the variable has its real value.
Conditions of a read inside a comprehension are not lifted (they may name the iteration
variable), and a condition is lifted only when its source text provably is the condition
itself: the AST nodes inside the text are exactly the condition's (cel-cpp's positions are the
judge, not this module's reading of the text). Anything unproven leaves the read unguarded:
eager, as before.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from webhook.cel.ast import Call, CheckedAst, Comprehension, Expr, Ident, Select, children, walk
from webhook.cel.lexer import tokens

# A conjunction of (condition text, polarity); the empty one is "always".
Conjunction = tuple[tuple[str, bool], ...]
Guard = frozenset[Conjunction]

ALWAYS: Guard = frozenset({()})
# Beyond these a guard costs more than it can spare: the variable is computed unconditionally.
MAX_DISJUNCTS = 4
MAX_CONJUNCTS = 8


def branch_reads(ast: CheckedAst | None, names: Iterable[str]) -> dict[str, list[Conjunction]]:
    """For each variable in ``names`` that the expression reads, the branch conditions of each
    read (``[()]`` for a read on every path). None (no AST) reads every name unconditionally."""
    wanted = set(names)
    if ast is None:
        return {name: [()] for name in wanted}
    reads: dict[str, list[Conjunction]] = {}
    spans = _ConditionTexts(ast)
    unattributed = False

    def visit(node: Expr, path: Conjunction, in_loop: bool) -> None:
        nonlocal unattributed
        if isinstance(node, Select) and isinstance(node.operand, Ident) and node.operand.name == "variables":
            if node.field in wanted and not node.test_only:
                reads.setdefault(node.field, []).append(path)
            return
        if isinstance(node, Ident) and node.name == "variables":
            unattributed = True  # read some other way (``variables[?'x']``, a macro over it)
            return
        if isinstance(node, Comprehension):
            for child in children(node):
                visit(child, path, True)
            return
        if isinstance(node, Call) and node.function == "_?_:_" and len(node.args) == 3 and not in_loop:
            condition, then, otherwise = node.args
            visit(condition, path, in_loop)
            text = spans.condition(node)
            visit(then, path + ((text, True),) if text is not None else path, in_loop)
            visit(otherwise, path + ((text, False),) if text is not None else path, in_loop)
            return
        for child in children(node):
            visit(child, path, in_loop)

    visit(ast.expr, (), False)
    if unattributed:
        return {name: [()] for name in wanted}
    return reads


class _ConditionTexts:
    """The source text of a conditional's condition, when cel-cpp's node positions prove it."""

    def __init__(self, ast: CheckedAst) -> None:
        self.text = ast.expression
        self.positions: list[tuple[int, int]] = [(n.offset, n.id) for n in ast.walk() if n.offset >= 0]

    def condition(self, node: Call) -> str | None:
        placed = [n for n in walk(node.args[0]) if n.offset >= 0]
        if not placed:
            return None
        inside = {n.id for n in placed}
        start = min(n.offset for n in placed)
        end = node.offset  # the '?'
        if self.text[end:end + 1] != "?":
            return None
        start = self._extend_left(start, end)
        span = self.text[start:end]
        if not _balanced(span):
            return None
        if {id_ for offset, id_ in self.positions if start <= offset < end} != inside:
            return None
        return span.strip()

    def _extend_left(self, start: int, end: int) -> int:
        """Back over a global call's name (``size(``) and the parentheses the condition opens in."""
        text = self.text
        position = start
        while position > 0 and (text[position - 1].isalnum() or text[position - 1] in "_."):
            position -= 1
        depth = _unopened(text[position:end])
        while depth > 0:
            back = position - 1
            while back >= 0 and text[back].isspace():
                back -= 1
            if back < 0 or text[back] != "(":
                break
            position, depth = back, depth - 1
        return position


def _unopened(text: str) -> int:
    """How many of the ')' in ``text`` close a '(' before it."""
    depth = lowest = 0
    for bracket in _brackets(text) or ():
        depth += {"(": 1, ")": -1}.get(bracket, 0)
        lowest = min(lowest, depth)
    return -lowest


def _balanced(text: str) -> bool:
    found = _brackets(text)
    if found is None:
        return False
    depth = 0
    for bracket in found:
        depth += 1 if bracket in "([{" else -1
        if depth < 0:
            return False
    return depth == 0


_BRACKETS = frozenset("()[]{}")


def _brackets(text: str) -> list[str] | None:
    """The brackets of ``text`` outside its strings and comments, in order (the CEL lexer's);
    None when the lexer cannot read it all, which leaves the read unguarded."""
    found = []
    for token in tokens(text):
        if token.kind == "invalid":
            return None
        if token.kind == "punct" and token.text in _BRACKETS:
            found.append(token.text)
    return found


def guards(roots: Sequence[Mapping[str, list[Conjunction]]], reads: Mapping[str, Mapping[str, list[Conjunction]]],
           order: Sequence[str]) -> dict[str, Guard]:
    """Each variable's guard. ``roots`` are the filter's expressions' branch reads (their guard is
    ALWAYS), ``reads`` each variable's own; ``order`` the declaration order (a variable reads only
    earlier ones), so a variable's readers are settled before it."""
    found: dict[str, Guard] = {}
    readers: dict[str, list[tuple[Guard, Conjunction]]] = {}
    for root in roots:
        for name, paths in root.items():
            readers.setdefault(name, []).extend((ALWAYS, path) for path in paths)
    for name in reversed(order):
        if name not in readers:
            continue
        guard = _simplify(frozenset(d + path for outer, path in readers[name] for d in outer))
        found[name] = guard
        for read, paths in reads.get(name, {}).items():
            readers.setdefault(read, []).extend((guard, path) for path in paths)
    return found


def _simplify(guard: Guard) -> Guard:
    if () in guard:
        return ALWAYS
    kept = [d for d in guard if not any(o != d and set(o) <= set(d) for o in guard)]
    if len(kept) > MAX_DISJUNCTS or any(len(d) > MAX_CONJUNCTS for d in kept):
        return ALWAYS
    return frozenset(kept)


def text(guard: Guard) -> str | None:
    """The guard as a CEL condition; None for ALWAYS."""
    if guard == ALWAYS:
        return None
    disjuncts = []
    for conjunction in sorted(guard):
        disjuncts.append(" && ".join(f"(\n{c}\n)" if positive else f"!(\n{c}\n)" for c, positive in conjunction))
    return " || ".join(f"({d})" for d in disjuncts)
