"""The strings extension at version 2, as kube-apiserver enables it (ext.Strings(StringsVersion(2)))."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment, CelEvaluationError, compat

FIXTURES = Path(__file__).parents[1] / "fixtures/cel"
UPSTREAM_CASES: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "strings_ext_v2.yaml").read_text())
FORMAT_CASES: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "string_format.yaml").read_text())

# Format cases where celgate knowingly differs (webhook/cel/compat.py).
FORMAT_DIFFERENCES = {
    "small duration support for string": "D1",
    "map support (all key types)": "D2",
}


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"self": cel.Type.DYN})


def outcome(env: CelEnvironment, expression: str, data: Any = None) -> tuple[str, Any]:
    try:
        return "value", env.compile(expression).evaluate({"self": data})
    except CelCompileError as exc:
        return "compile", exc.message
    except CelEvaluationError as exc:
        return "error", exc.message


@pytest.mark.parametrize("case", UPSTREAM_CASES, ids=[c["expr"] for c in UPSTREAM_CASES])
def test_cel_go_strings_case(env: CelEnvironment, case: dict[str, Any]) -> None:
    kind, result = outcome(env, case["expr"])
    if case.get("compile_error"):
        assert kind == "compile"
    elif "error" in case:
        assert (kind, result) == ("error", case["error"])
    else:
        assert (kind, result) == ("value", True)


def _format_param(case: dict[str, Any]) -> Any:
    code = FORMAT_DIFFERENCES.get(case["name"])
    marks = [pytest.mark.xfail(strict=True, reason=compat.difference(code))] if code else []
    return pytest.param(case, id=case["name"], marks=marks)


@pytest.mark.parametrize("case", [_format_param(c) for c in FORMAT_CASES])
def test_cel_go_format_case(env: CelEnvironment, case: dict[str, Any]) -> None:
    # A JSON string literal is a valid CEL string literal.
    expression = f"{json.dumps(case['format'], ensure_ascii=False)}.format([{case['args']}])"
    kind, result = outcome(env, expression)
    if "error" not in case:
        assert (kind, result) == ("value", case["output"])
    else:
        # Literal arguments: kube-apiserver's format validator rejects these at compile time
        # (cel-go's upstream test checks some at run time, where the text is the same).
        assert kind == "compile" and case["error"] in result


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("'%s %s'.format([1])", "ERROR: <input>:1:15: index 1 out of range"),
        ("'%d'.format([1.5])", "ERROR: <input>:1:14: error during formatting: decimal clause can only be used on"
                               " integers, was given double"),
        ("'%s'.format([[1, optional.none()]])", "ERROR: <input>:1:31: error during formatting: string clause can"
                                                " only be used on strings, bools, bytes, ints, doubles, maps, lists,"
                                                " types, durations, and timestamps, was given optional_type"),
        ("'%s'.format(['a', 'b'])", "ERROR: <input>:1:12: too many arguments supplied to string.format (expected 1, got 2)"),
        ("'%'.format([1])", "ERROR: <input>:1:11: unexpected end of string"),
    ],
)
def test_literal_format_call_is_checked_when_compiling(env: CelEnvironment, expression: str, message: str) -> None:
    kind, result = outcome(env, expression)
    assert kind == "compile" and result.splitlines()[0] == message


KNIGHT = "Rook takes 👑"


@pytest.mark.parametrize(
    "expression",
    [
        # apiextensions-apiserver pkg/apiserver/schema/cel/validation_test.go (v1.35)
        "self.charAt(3) == 'k'",
        "self.indexOf('o') == 1",
        "self.indexOf('o', 2) == 2",
        "self.replace(' ', 'x') == 'Rookxtakesx👑'",
        "self.replace(' ', 'x', 1) == 'Rookxtakes 👑'",
        "self.split(' ') == ['Rook', 'takes', '👑']",
        "self.split(' ', 2) == ['Rook', 'takes 👑']",
        "self.substring(5) == 'takes 👑'",
        "self.substring(0, 4) == 'Rook'",
        "self.substring(4, 10).trim() == 'takes'",
        "self.upperAscii() == 'ROOK TAKES 👑'",
        "self.lowerAscii() == 'rook takes 👑'",
        "self.endsWith('👑')",
        "'%d %s %f %s %s'.format([1, 'abc', 1.0, duration('1m'), timestamp('2000-01-01T00:00:00.000Z')])"
        " == '1 abc 1.000000 60s 2000-01-01T00:00:00Z'",
        "'%e'.format([3.14]) == '3.140000×10⁰⁰'",
        "'%o %o %o'.format([7, 8, 9]) == '7 10 11'",
        "'%b %b %b'.format([7, 8, 9]) == '111 1000 1001'",
        "['a', 'b', 'c'].join('-') == 'a-b-c'",
        "['a', 'b', 'c'].join() == 'abc'",
        "size(['aa', 'bb', 'cc', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].join(' ')) > 0",
    ],
)
def test_kubernetes_crd_validation_string_rule(env: CelEnvironment, expression: str) -> None:
    assert outcome(env, expression, KNIGHT) == ("value", True)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'tacocat'.indexOf('', 30)", 30),  # an empty needle returns the offset as given
        ("'abc'.lastIndexOf('abcd')", -1),
        ("''.split('')", []),
        ("'abc'.split('', 2)", ["a", "bc"]),
        ("'a,b,c'.split(',', -1)", ["a", "b", "c"]),
        ("'aaa'.replace('a', 'b', 0)", "aaa"),
        ("'aaa'.replace('a', 'b', -1)", "bbb"),
        ("'\\x1ctext\\x1c'.trim()", "\x1ctext\x1c"),  # Go's TrimSpace keeps U+001C, Python strips it
        ("'%f'.format([1234567.5])", "1,234,567.500000"),  # en_US digit grouping (x/text)
        ("'%e'.format([0.00000002])", "2.000000×10⁻⁰⁸"),
        ("'%s'.format([1234567.0])", "1.234567e+06"),  # Go's %g
        ("'%s'.format([0.0001])", "0.0001"),
        ("'%s'.format([int])", "int"),
        ("'%x %X'.format([-255, 'hi'])", "-ff 6869"),
        ("'%s'.format([{'b': [1.5, b'x'], 'a': duration('90s')}])", '{"a":duration("90s"), "b":[1.500000, b"x"]}'),
    ],
)
def test_edge_cases_follow_go(env: CelEnvironment, expression: str, expected: Any) -> None:
    assert outcome(env, expression) == ("value", expected)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("self.charAt(-1)", "index out of range: -1"),
        ("self.substring(20)", "index out of range: 20"),
        ("self.substring(3, 2)", "invalid substring range. start: 3, end: 2"),
        ("self.indexOf('a', -2)", "index out of range: -2"),
        ("'%d'.format([self])", "error during formatting: decimal clause can only be used on integers, was given string"),
        ("'%s'.format(dyn([]))", "index 0 out of range"),
        ("'%s %d'.format(self.split(' '))", "error during formatting: decimal clause can only be used on integers, was given string"),
        ("'%5d'.format(dyn([1]))", 'could not parse formatting clause: unrecognized formatting clause "5"'),
    ],
)
def test_errors_from_data_use_cel_go_text(env: CelEnvironment, expression: str, message: str) -> None:
    assert outcome(env, expression, KNIGHT) == ("error", message)


def test_string_reverse_of_version_3_does_not_compile(env: CelEnvironment) -> None:
    # kube-apiserver enables strings version 2; reverse() arrived in version 3 (lists have their own).
    kind, _ = outcome(env, "'abc'.reverse()")
    assert kind == "compile"


@pytest.mark.xfail(strict=True, reason=compat.difference("D3"))
def test_format_error_names_uint(env: CelEnvironment) -> None:
    assert outcome(env, "'%f'.format([1u])") == (
        "error", "error during formatting: fixed-point clause can only be used on doubles, was given uint"
    )
