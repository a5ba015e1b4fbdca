"""CEL's lexical tokens, as cel-spec's grammar defines them."""

from __future__ import annotations

import pytest

from webhook.cel.lexer import is_punct, matching_close, matching_open, operand_start, tokenize, tokens


def kinds_and_texts(source: str) -> list[tuple[str, str]]:
    return [(token.kind, token.text) for token in tokens(source)]


def test_tokenizer_keeps_literals_whole() -> None:
    found = tokenize("a.b['x.y'] + 1.5 // has(c.d)\n")
    assert [t.text for t in found or []] == ["a", ".", "b", "[", "'x.y'", "]", "+", "1.5"]


@pytest.mark.parametrize(
    ("source", "literal"),
    [
        (r"'it\'s'", r"'it\'s'"),  # an escaped quote does not end the string
        ('"a\\"b"', '"a\\"b"'),
        (r"r'a\\' ", r"r'a\\'"),  # a raw string has no escapes
        (r"R'\d+'", r"R'\d+'"),
        ("b'\\x00'", "b'\\x00'"),
        ("rb'x'", "rb'x'"),
        ("BR'x'", "BR'x'"),
        ("'''one\ntwo'''", "'''one\ntwo'''"),  # triple quotes span lines
        ('r"""a\\"""', 'r"""a\\"""'),
        ("'''it's'''", "'''it's'''"),
        ("''", "''"),
    ],
)
def test_strings_and_bytes_are_one_literal(source: str, literal: str) -> None:
    assert kinds_and_texts(source)[0] == ("literal", literal)


@pytest.mark.parametrize(
    ("source", "texts"),
    [
        ("1.5e-3 + 2u - 0x1F", ["1.5e-3", "+", "2u", "-", "0x1F"]),
        ("1e5", ["1e5"]),
        (".5", [".5"]),
        ("1.double()", ["1", ".", "double", "(", ")"]),  # ``1.`` is not a number
        ("a[0].b", ["a", "[", "0", "]", ".", "b"]),
    ],
)
def test_numbers(source: str, texts: list[str]) -> None:
    assert [text for _, text in kinds_and_texts(source)] == texts


def test_operators_in_and_names() -> None:
    assert kinds_and_texts("x in y && index != `a-b` || !z.?w") == [
        ("ident", "x"), ("punct", "in"), ("ident", "y"), ("punct", "&&"), ("ident", "index"), ("punct", "!="),
        ("quoted", "`a-b`"), ("punct", "||"), ("punct", "!"), ("ident", "z"), ("punct", "."), ("punct", "?"),
        ("ident", "w"),
    ]


def test_comments_and_spaces_are_dropped_and_offsets_kept() -> None:
    found = list(tokens("a // 'not a string\n  + b"))
    assert [(t.text, t.start, t.end) for t in found] == [("a", 0, 1), ("+", 21, 22), ("b", 23, 24)]


@pytest.mark.parametrize(
    ("source", "invalid"),
    [
        ("a # b", "#"),
        ("'unterminated\nb", "'unterminated"),  # a single-quoted string ends at the line
        ("x + '''open\nstill", "'open"),  # as ANTLR lexes it: '' then an unterminated string
        ("a.`open", "`open"),
    ],
)
def test_what_the_grammar_has_no_token_for_is_invalid(source: str, invalid: str) -> None:
    assert ("invalid", invalid) in kinds_and_texts(source)
    assert tokenize(source) is None


def test_brackets_are_matched_across_nesting() -> None:
    found = tokenize("f(a[1], {'k': (2)}) + 3") or []
    assert matching_close(found, 1) == 14
    assert matching_open(found, 14) == 1
    assert is_punct(found[14], ")") and not is_punct(found[0], ")")


@pytest.mark.parametrize(
    ("source", "first"),
    [
        ("x + a.b[0].?c", "a"),
        ("x || f(y).z", "f"),
        ("x + (a).b", "("),
        ("[1, 2].size", "["),
        ("a.`b-c`.d", "a"),
    ],
)
def test_operand_start_is_the_start_of_the_postfix_chain(source: str, first: str) -> None:
    found = tokenize(source) or []
    start = operand_start(found, len(found) - 1)
    assert start is not None and found[start].text == first
