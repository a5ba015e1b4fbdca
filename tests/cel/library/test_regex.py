"""The Kubernetes regex library (find, findAll), transcribed from kube-apiserver's tests.

Cases: apiextensions-apiserver v0.35.0 validation_test.go ("stdlib regex functions"); Go
regexp semantics (FindString / FindAllString) and error texts from Go's regexp/syntax.
"""

from __future__ import annotations

import pytest
from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment, CelEvaluationError
from webhook.cel.go_regexp import go_regexp_error, regex_literal_error
from webhook.cel.library.regex import find_all

SELF = {"str": "this is a 123 string 456"}


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"self": cel.Type.DYN, "pattern": cel.Type.STRING})


@pytest.mark.parametrize(
    "expression",
    [
        "self.str.find('[0-9]+') == '123'",
        "self.str.find('[0-9]+') != '456'",
        "self.str.find('xyz') == ''",
        "self.str.findAll('[0-9]+') == ['123', '456']",
        "self.str.findAll('[0-9]+', 0) == []",
        "self.str.findAll('[0-9]+', 1) == ['123']",
        "self.str.findAll('[0-9]+', 2) == ['123', '456']",
        "self.str.findAll('[0-9]+', 3) == ['123', '456']",
        "self.str.findAll('[0-9]+', -1) == ['123', '456']",
        "self.str.findAll('xyz') == []",
        "self.str.findAll('xyz', 1) == []",
    ],
)
def test_valid_expression_is_true(env: CelEnvironment, expression: str) -> None:
    assert env.compile(expression).evaluate({"self": SELF, "pattern": ""}) is True


@pytest.mark.parametrize(
    "expression",
    ["self.str.find(')') == ''", "self.str.findAll(')') == []", "self.str.findAll(')', 1) == []"],
)
def test_constant_invalid_pattern_fails_at_compile_time(env: CelEnvironment, expression: str) -> None:
    # upstream: "compile error: program instantiation failed: error parsing regexp: unexpected ): `)`"
    with pytest.raises(CelCompileError) as caught:
        env.compile(expression)
    assert caught.value.message == "program instantiation failed: error parsing regexp: unexpected ): `)`"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("self.str.find(pattern)", "Illegal regex: error parsing regexp: unexpected ): `)`"),
        ("self.str.findAll(pattern)", "Illegal regex: error parsing regexp: unexpected ): `)`"),
        ("self.str.findAll(pattern, 2)", "Illegal regex: error parsing regexp: unexpected ): `)`"),
    ],
)
def test_dynamic_invalid_pattern_is_a_runtime_error(env: CelEnvironment, expression: str, message: str) -> None:
    with pytest.raises(CelEvaluationError) as caught:
        env.compile(expression).evaluate({"self": SELF, "pattern": ")"})
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (")", "error parsing regexp: unexpected ): `)`"),
        ("(", "error parsing regexp: missing closing ): `(`"),
        ("[a", "error parsing regexp: missing closing ]: `[a`"),
        ("*", "error parsing regexp: missing argument to repetition operator: `*`"),
        ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("\\q", "error parsing regexp: invalid escape sequence: `\\q`"),
        ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
        ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
        ("\\", "error parsing regexp: trailing backslash at end of expression: ``"),
        ("[0-9]+", None),
    ],
)
def test_pattern_errors_use_go_regexp_wording(pattern: str, message: str | None) -> None:
    assert regex_literal_error(pattern) == message


def test_unknown_re2_error_code_is_passed_through() -> None:
    assert go_regexp_error("something new: x") == "error parsing regexp: something new: `x`"


@pytest.mark.parametrize(
    ("text", "pattern", "limit", "expected"),
    [
        # Go's FindAllString drops an empty match right after a match, then steps one rune.
        ("baaab", "a*", -1, ["", "aaa", ""]),
        ("123 abc 456", "[0-9]*", -1, ["123", "", "", "", "", "456"]),
        ("abc", "", -1, ["", "", "", ""]),
        ("héllo", "l*", -1, ["", "", "ll", ""]),
        ("aaa", "a", 2, ["a", "a"]),
        ("aaa", "a", 0, []),
    ],
)
def test_find_all_matches_go(text: str, pattern: str, limit: int, expected: list[str]) -> None:
    assert find_all(text, pattern, limit) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # regex.go doc examples, with Go's actual results for a pattern that matches empty
        ("'abc 123'.find('[0-9]+')", "123"),
        ("'abc 123'.find('[0-9]*')", ""),
        ("'abc 123'.find('xyz')", ""),
        ("'123 abc 456'.findAll('[0-9]+')", ["123", "456"]),
        ("'123 abc 456'.findAll('[0-9]+', 1)", ["123"]),
        ("'123 abc 456'.findAll('xyz')", []),
        ("'AbC'.find('(?i)b.')", "bC"),
        ("'line1\\nline2'.findAll('(?m)^line[0-9]')", ["line1", "line2"]),
    ],
)
def test_result_value(env: CelEnvironment, expression: str, expected: object) -> None:
    assert env.compile(expression).evaluate({"self": SELF, "pattern": ""}) == expected
