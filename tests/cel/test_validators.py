"""Compile-time checks kube-apiserver makes and cel-cpp does not (cel-go cel/validator.go,
the Kubernetes regex library, and celgate's opaque types)."""

from __future__ import annotations

import pytest
from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment
from webhook.cel.types import opaque_type
from webhook.cel.go_regexp import regex_literal_error as go_regex_error
from webhook.cel.validators import go_duration_is_valid, go_timestamp_is_valid


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({
        "object": cel.Type.DYN,
        "s": cel.Type.STRING,
        "q": opaque_type("kubernetes.Quantity").cel_type,
    })


def compile_error(env: CelEnvironment, expression: str) -> str:
    with pytest.raises(CelCompileError) as caught:
        env.compile(expression)
    assert caught.value.expression == expression
    return caught.value.message


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # ValidateHomogeneousAggregateLiterals: the first mismatching element, cel-go's wording
        ("[1, 'a']", "ERROR: <input>:1:5: expected type 'int' but found 'string'\n | [1, 'a']\n | ....^"),
        ("[[1], ['a']]", "ERROR: <input>:1:7: expected type 'list(int)' but found 'list(string)'\n | [[1], ['a']]\n | ......^"),
        ("[1, dyn(2)]", "ERROR: <input>:1:8: expected type 'int' but found 'dyn'\n | [1, dyn(2)]\n | .......^"),
        ("[?optional.of(1), 2.0]", "ERROR: <input>:1:19: expected type 'int' but found 'double'\n | [?optional.of(1), 2.0]\n | ..................^"),
        # every mismatching map key and value is reported, in source order
        (
            "{'a': 1, 'b': 'x', 1: 2}",
            "ERROR: <input>:1:15: expected type 'int' but found 'string'\n | {'a': 1, 'b': 'x', 1: 2}\n | ..............^\n"
            "ERROR: <input>:1:20: expected type 'string' but found 'int'\n | {'a': 1, 'b': 'x', 1: 2}\n | ...................^",
        ),
        # ValidateDurationLiterals / ValidateTimestampLiterals / ValidateRegexLiterals
        ("duration('1x') > duration('1s')", "ERROR: <input>:1:10: invalid duration argument\n | duration('1x') > duration('1s')\n | .........^"),
        ("duration('2562048h')", "ERROR: <input>:1:10: invalid duration argument\n | duration('2562048h')\n | .........^"),
        ("timestamp('2020-13-01T00:00:00Z')", "ERROR: <input>:1:11: invalid timestamp argument\n | timestamp('2020-13-01T00:00:00Z')\n | ..........^"),
        ("s.matches('x++')", "ERROR: <input>:1:11: invalid matches argument\n | s.matches('x++')\n | ..........^"),
        # a wide character before the error prints as a wide dot, as in cel-go
        ("'é' == s && [1, 'a'] == []", "ERROR: <input>:1:17: expected type 'int' but found 'string'\n | 'é' == s && [1, 'a'] == []\n | .\uff0e..............^"),
        ("[\n  1,\n  'a']", "ERROR: <input>:3:3: expected type 'int' but found 'string'\n |   'a']\n | ..^"),
        # celgate's opaque types hide their one field, as cel-go's opaque types have none
        ("q.celgate_value == '1'", "ERROR: <input>:1:2: type 'kubernetes.Quantity' does not support field selection\n | q.celgate_value == '1'\n | .^"),
        ("q.?celgate_value.orValue('') == '1'", "ERROR: <input>:1:2: type 'kubernetes.Quantity' does not support field selection\n | q.?celgate_value.orValue('') == '1'\n | .^"),
        ("has(q.celgate_value)", "ERROR: <input>:1:4: type 'kubernetes.Quantity' does not support field selection\n | has(q.celgate_value)\n | ...^"),
        ("kubernetes.Quantity{celgate_value: '1'} == q", "ERROR: <input>:1:20: 'kubernetes.Quantity' is not a message type\n | kubernetes.Quantity{celgate_value: '1'} == q\n | ...................^"),
    ],
)
def test_rejected_at_compile_time_with_cel_go_message(env, expression, message) -> None:
    assert compile_error(env, expression) == message


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/compilation_test.go
        ("s.find(')') == ''", "program instantiation failed: error parsing regexp: unexpected ): `)`"),
        ("s.findAll(')') == []", "program instantiation failed: error parsing regexp: unexpected ): `)`"),
        ("s.findAll(')', 1) == []", "program instantiation failed: error parsing regexp: unexpected ): `)`"),
        ("s.findAll('[a') == []", "program instantiation failed: error parsing regexp: missing closing ]: `[a`"),
    ],
)
def test_invalid_literal_find_pattern_fails_program_instantiation(env, expression, message) -> None:
    assert compile_error(env, expression) == message


@pytest.mark.parametrize(
    "expression",
    [
        "[1, 2, 3] == [] && {'a': 1, 'b': 2} != {}",
        "[[], [1]] != []",
        "[1, ?optional.of(2)] != []",
        "{?'a': optional.of(1), 'b': 2} != {}",
        "'%s %d'.format(['a', 1]) != ''",  # lists under format() may mix types
        # ... at any depth below it (cel/validator.go inExemptFunction; checked with tests/oracle)
        "'%s'.format([[dyn(1), 'a'][0]]) != ''",
        "'%s'.format([[1].map(x, [x, 'a'])]) != ''",
        "duration('-1.5h') < duration('2562047h') && duration('0') == duration('0s')",
        "timestamp('2020-02-29T23:59:59.999999999+01:00') > timestamp('0001-01-01T00:00:00Z')",
        "s.matches('^[a-z]+(?:-[a-z]+)*$')",
        "matches(s, '(')",  # cel-go checks argument 0 only: in the global form the string
        "s.matches(s) && s.find(s) == ''",  # non-literal patterns are checked at run time
        "type(q) == kubernetes.Quantity",
        "object.celgate_value == 1",  # an ordinary field of the data
    ],
)
def test_accepted_expressions_compile(env, expression) -> None:
    assert env.compile(expression).source == expression


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1h30m", True), ("-1.5h", True), ("+300ms", True), ("0", True), ("1\u00b5s", True), (".5s", True),
        ("2562047h47m16.854775807s", True), ("2562047h47m16.854775808s", False),
        ("", False), ("1", False), ("1d", False), ("h", False), ("1.s", True), ("-", False),
    ],
)
def test_duration_literals_follow_go_parse_duration(text, valid) -> None:
    assert go_duration_is_valid(text) is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2006-01-02T15:04:05Z", True), ("2006-01-02T15:04:05.999999999-07:00", True),
        ("9999-12-31T23:59:59Z", True), ("9999-12-31T23:00:00-01:00", False),
        ("2006-01-02 15:04:05Z", False), ("2006-01-02T15:04:05", False), ("2006-02-30T00:00:00Z", False),
        ("2006-01-02T24:00:00Z", False), ("2006-01-02t15:04:05z", False),
    ],
)
def test_timestamp_literals_follow_go_rfc3339_within_cel_range(text, valid) -> None:
    assert go_timestamp_is_valid(text) is valid


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("^[a-z]+$", None),
        ("(a", "error parsing regexp: missing closing ): `(a`"),
        ("*a", "error parsing regexp: missing argument to repetition operator: `*`"),
        ("a{2,1}", "error parsing regexp: invalid repeat count: `{2,1}`"),
        ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
        ("\\8", "error parsing regexp: invalid escape sequence: `\\8`"),
    ],
)
def test_regex_errors_are_worded_like_go_regexp(pattern, error) -> None:
    assert go_regex_error(pattern) == error
