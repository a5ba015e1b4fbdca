"""CEL's lexical tokens, for the source rewrites and error positions cel-cpp does not give us.

Several places read CEL source text rather than its AST: the presence-test and ``optMap``
rewrites (presence.py, optional_macros.py) splice the source, and policy variables
(policy/composition.py, policy/declarations.py) are found and reported by position. They share
this one lexer, which follows the lexical grammar of cel-spec (doc/langdef.md): strings and
bytes with their ``r``/``b`` prefixes (a raw string has no escapes), triple-quoted strings
across lines, numbers (``1.5``, ``1e3``, ``0x1Fu``; ``1.`` is not a number but ``1`` and
``.``), the operators, ``in``, identifiers and backquoted field names (``a.`b-c```), with
spaces and ``//`` comments skipped. What the grammar has no token for (a stray character, an
unterminated string) is an ``invalid`` token, so a rewrite can refuse the source rather than
guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Token:
    kind: str  # ident | quoted (a backquoted field name) | literal | punct | invalid
    text: str
    start: int
    end: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<literal>
        (?:[rR][bB]?|[bB][rR])(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*")
      | [bB]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\[^\n]|[^\\'\n])*'|"(?:\\[^\n]|[^\\"\n])*")
      | 0[xX][0-9a-fA-F]+[uU]?
      | \d+\.\d+(?:[eE][+-]?\d+)? | \d+[eE][+-]?\d+ | \.\d+(?:[eE][+-]?\d+)?
      | \d+[uU]?
    )
  | (?P<punct>==|!=|<=|>=|&&|\|\||\bin\b|[-+*/%!<>?:,.()\[\]{}])
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<quoted>`[^`\n]+`)
  | (?P<invalid>['"`][^\n]*|.)
    """,
    re.VERBOSE | re.DOTALL,
)
OPENERS = {")": "(", "]": "[", "}": "{"}


def tokens(source: str) -> Iterator[Token]:
    """Every token of ``source`` in order, spaces and comments dropped."""
    position, length = 0, len(source)
    while position < length:
        match = _TOKEN.match(source, position)
        assert match is not None  # the invalid alternative matches any character
        kind = match.lastgroup or ""
        if kind != "space":
            yield Token(kind, match.group(), position, match.end())
        position = match.end()


def tokenize(source: str) -> list[Token] | None:
    """The tokens of ``source``, or None when any of them is invalid."""
    found = list(tokens(source))
    return None if any(token.kind == "invalid" for token in found) else found


def is_punct(token: Token | None, text: str) -> bool:
    return token is not None and token.kind == "punct" and token.text == text


def matching_close(items: list[Token], open_index: int) -> int | None:
    """Index of the bracket that closes the one at ``open_index``."""
    depth = 0
    for index in range(open_index, len(items)):
        text = items[index].text if items[index].kind == "punct" else ""
        if text in ("(", "[", "{"):
            depth += 1
        elif text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return index
    return None


def matching_open(items: list[Token], close_index: int) -> int | None:
    """Index of the bracket that the one at ``close_index`` closes."""
    depth = 0
    for index in range(close_index, -1, -1):
        text = items[index].text if items[index].kind == "punct" else ""
        if text in (")", "]", "}"):
            depth += 1
        elif text in ("(", "[", "{"):
            depth -= 1
            if depth == 0:
                return index
    return None


def operand_start(items: list[Token], end: int) -> int | None:
    """Index of the first token of the postfix chain that ends at token ``end`` (inclusive):
    ``a.b[0].?c`` or ``f(x).y``; None where it is not one."""
    index = end
    while index >= 0:
        token = items[index]
        if token.kind == "punct" and token.text in OPENERS:
            opener = matching_open(items, index)
            if opener is None:
                return None
            previous = items[opener - 1] if opener > 0 else None
            chained = previous is not None and (
                previous.kind in ("ident", "quoted", "literal") or (previous.kind == "punct" and previous.text in OPENERS)
            )
            if not chained:
                return opener  # a parenthesised expression or a list/map literal
            index = opener - 1
            continue
        if token.kind not in ("ident", "quoted", "literal"):
            return None
        previous = items[index - 1] if index > 0 else None
        if is_punct(previous, "?") and index >= 2 and is_punct(items[index - 2], "."):
            index -= 3  # receiver.?field
        elif is_punct(previous, "."):
            index -= 2  # receiver.field or receiver.method(...)
        else:
            return index
    return None
