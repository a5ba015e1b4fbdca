"""Policy variables by composition: an expression that carries the variables it uses.

kube-apiserver evaluates ``spec.variables`` lazily, at most once per evaluation, and hands
their CEL values to later expressions (admission/plugin/cel/composition.go). cel-expr-python
cannot put every CEL value back into an activation (an optional, a uint), so an expression that
reads ``variables.<name>`` is also compiled in two composed forms:

* :func:`inline` — what runs: each ``variables.x`` replaced by ``(X)``, X's own source with its
  variables inlined in turn. Reading a variable evaluates its expression where it is read, so a
  short-circuited variable is never evaluated and its errors surface only when it is read, as
  upstream; a variable read twice is evaluated twice, which costs time but not correctness (CEL
  is pure), and the cost ledger (validator.py) charges each variable once whatever ran.
* :func:`compose` — what type-checks: a nest of ``cel.bind`` over the variables it transitively
  references, which gives ``variables.isValid`` its real type for the create-time checks of the
  output type. It is never evaluated: cel-cpp's ``cel.bind`` can read a stale value after a
  short-circuited comprehension (webhook/cel/compat.py D30).

``variables.x`` is rewritten to ``variables_x`` in the composed text — same length, so
positions inside the expression do not move — and the expression starts on its own line, so
compile errors found only in the composed text are mapped back onto the original. One
identifier per variable rather than ``cel.bind(variables, {'a': <A>, ...}, ...)``: a map literal
types every variable as the map's (often ``dyn``) value type.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from webhook.cel.errors import error_text, position_of
from webhook.cel.lexer import tokens

# tokens, position_of and error_text are the CEL layer's; compiler.py still reads them from here.
__all__ = [
    "Composed", "Reference", "bound_name", "compose", "error_text", "inline", "position_of", "references",
    "remap_errors", "rewrite", "tokens",
]

_ERROR_HEAD = re.compile(r"^ERROR: <input>:(\d+):(\d+): (.*)$")


@dataclass(frozen=True)
class Reference:
    """``variables.<name>`` at ``start:end`` (``has(variables.<name>)`` when ``presence``)."""

    name: str
    start: int
    end: int
    dot: int  # offset of the '.', where cel-go reports an undefined field
    presence: bool = False


@functools.lru_cache(maxsize=4096)
def references(expression: str) -> tuple[Reference, ...]:
    """Every ``variables.<name>`` read in an expression (not ``x.variables.y``, not calls)."""
    found: list[Reference] = []
    items = list(tokens(expression))
    for i, token in enumerate(items):
        if token.kind != "ident" or token.text != "variables":
            continue
        if i > 0 and items[i - 1].text == ".":
            continue
        if i + 2 >= len(items) or items[i + 1].text != "." or items[i + 2].kind != "ident":
            continue
        if i + 3 < len(items) and items[i + 3].text == "(":
            continue  # variables.f(...) is a receiver call, not a variable read
        name_token = items[i + 2]
        presence = (
            i >= 2 and items[i - 1].text == "(" and items[i - 2].text == "has"
            and i + 3 < len(items) and items[i + 3].text == ")"
        )
        if presence:
            found.append(Reference(name_token.text, items[i - 2].start, items[i + 3].end, items[i + 1].start, True))
        else:
            found.append(Reference(name_token.text, token.start, name_token.end, items[i + 1].start))
    return tuple(found)


def bound_name(variable: str) -> str:
    return f"variables_{variable}"


def rewrite(expression: str, refs: Sequence[Reference], known: set[str]) -> str:
    """The expression with each known ``variables.x`` replaced by its bound identifier."""
    out: list[str] = []
    position = 0
    for ref in refs:
        if ref.name not in known:
            continue
        span = expression[ref.start : ref.end]
        replacement = "true" if ref.presence else bound_name(ref.name)
        # Pad with the span's own newlines/spaces so later lines and columns keep their place.
        filler = "".join("\n" if c == "\n" else " " for c in span[len(replacement) :])
        out.append(expression[position : ref.start])
        out.append(replacement + filler)
        position = ref.end
    out.append(expression[position:])
    return "".join(out)


def inline(expression: str, definitions: Mapping[str, str], known: set[str]) -> str:
    """The expression with every known ``variables.x`` replaced by its definition, in parentheses
    (recursively); ``has(variables.x)`` of a declared variable is ``true``."""
    memo: dict[str, str] = {}

    def expand(text: str, depth: int) -> str:
        if depth > len(definitions) + 1:
            raise ValueError("variables reference each other in a cycle")
        out: list[str] = []
        position = 0
        for ref in references(text):
            if ref.name not in known:
                continue
            out.append(text[position:ref.start])
            if ref.presence:
                out.append("true")
            else:
                if ref.name not in memo:
                    memo[ref.name] = expand(definitions[ref.name], depth + 1)
                # Newlines keep a trailing ``// comment`` of the definition from swallowing the rest.
                out.append("(\n" + memo[ref.name] + "\n)")
            position = ref.end
        out.append(text[position:])
        return "".join(out)

    return expand(expression, 0)


@dataclass(frozen=True)
class Composed:
    text: str
    line_offset: int  # lines before the expression's own first line in ``text``


def compose(expression: str, dependencies: Sequence[str], definitions: Mapping[str, str], known: set[str]) -> Composed:
    """Wrap ``expression`` in the binds of ``dependencies`` (in declaration order).

    ``definitions`` maps a variable name to its original expression text.
    """
    body = rewrite(expression, references(expression), known)
    if not dependencies:
        return Composed(body, 0)
    prefix = "".join(
        f"cel.bind({bound_name(name)},\n{rewrite(definitions[name], references(definitions[name]), known)}\n,"
        for name in dependencies
    )
    text = prefix + "\n" + body + "\n" + ")" * len(dependencies)
    return Composed(text, prefix.count("\n") + 1)


def remap_errors(message: str, composed: Composed, original: str) -> str:
    """Compiler errors on the composed text, restated against the original expression.

    Errors located inside a variable's definition are dropped: they are reported on the
    variable itself.
    """
    lines = original.split("\n")
    blocks: list[str] = []
    for line in message.split("\n"):
        head = _ERROR_HEAD.match(line)
        if not head:
            continue
        row, column = int(head.group(1)) - composed.line_offset, int(head.group(2))
        if row < 1 or row > len(lines):
            continue
        blocks.append(error_text(original, row, column, head.group(3), lines))
    return "\n".join(blocks)
