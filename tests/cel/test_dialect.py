"""Base CEL as kube-apiserver (cel-go v0.26.0) evaluates it: macros, missing fields, overflow,
heterogeneous numbers, conversions, and cel-go's runtime error texts."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment, CelEvaluationError
from webhook.cel import compat, runtime_errors

DEPLOYMENT = json.loads((Path(__file__).parents[1] / "fixtures/cel/deployment.json").read_text())


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"object": cel.Type.DYN})


def evaluate(env: CelEnvironment, expression: str):
    return env.compile(expression).evaluate({"object": DEPLOYMENT})


def error_of(env: CelEnvironment, expression: str) -> str:
    with pytest.raises(CelEvaluationError) as caught:
        evaluate(env, expression)
    return caught.value.message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # standard macros
        ("object.spec.template.spec.containers.all(c, c.image.startsWith('registry.example/'))", True),
        ("object.spec.template.spec.containers.exists(c, c.name == 'sidecar')", True),
        ("object.spec.template.spec.containers.exists_one(c, has(c.ports))", True),
        ("[1, 2, 3].exists_one(x, x > 1)", False),
        ("object.spec.template.spec.containers.map(c, c.name)", ["app", "sidecar"]),
        ("object.spec.template.spec.containers.filter(c, !has(c.ports)).map(c, c.name)", ["sidecar"]),
        ("[1, 2, 3].map(x, x > 1, x * 10)", [20, 30]),
        ("object.metadata.labels.all(k, k in ['app', 'tier'])", True),
        ("object.metadata.labels.exists(k, object.metadata.labels[k] == 'web')", True),
        # has() on missing JSON fields is false, never an error
        ("has(object.spec.replicas)", True),
        ("has(object.spec.paused)", False),
        ("has(object.metadata.annotations)", False),
        ("has(object.spec.template.spec.containers[0].ports)", True),
        ("'app' in object.metadata.labels", True),
        # heterogeneous equality and cross-type numeric comparison (CrossTypeNumericComparisons)
        ("object.spec.replicas > 1.5", True),
        ("object.spec.replicas == 3.0", True),
        ("object.spec.ratio < 1", True),
        ("1 < 1.5", True),
        ("2u > 1.5", True),
        ("1 <= 1u", True),
        ("dyn(1) == dyn(1.0)", True),
        ("dyn(1u) == dyn(1)", True),
        ("dyn('1') == dyn(1)", False),
        ("dyn([1]) == dyn([1.0])", True),
        ("dyn({'a': 1}) == dyn({'a': 1u})", True),
        ("[1, 2] == [1, 2]", True),
        # integer arithmetic at the edges
        ("9223372036854775807 - 1", 9223372036854775806),
        ("-9223372036854775808 + 1", -9223372036854775807),
        ("-7 / 2", -3),
        ("-7 % 2", -1),
        ("18446744073709551615u - 1u", 18446744073709551614),
        # conversions
        ("int('42')", 42),
        ("int(-3.9)", -3),
        ("uint(3.9)", 3),
        ("double('2.5')", 2.5),
        ("string(42)", "42"),
        ("string(2.5)", "2.5"),
        ("string(b'abc')", "abc"),
        ("bytes('abc')", b"abc"),
        ("bool('true')", True),
        ("int(timestamp('1970-01-01T00:01:00Z'))", 60),
        # strings, bytes, durations, timestamps
        ("size('héllo')", 5),
        ("size(b'h\\xc3\\xa9')", 3),
        ("'hello'.contains('ell') && 'hello'.startsWith('he') && 'hello'.endsWith('lo')", True),
        ("'abc123'.matches('^[a-z]+[0-9]+$')", True),
        ("duration('1h30m') > duration('90m')", False),
        ("duration('1h30m') == duration('90m')", True),
        ("duration('1h').getMinutes()", 60),
        ("duration('1.5s').getSeconds()", 1),
        ("timestamp('2024-02-29T12:30:00Z').getFullYear()", 2024),
        ("timestamp('2024-02-29T12:30:00Z').getMonth()", 1),
        ("timestamp('2024-02-29T12:30:00Z').getDayOfMonth()", 28),
        ("timestamp('2024-02-29T12:30:00Z').getHours('America/New_York')", 7),
        ("timestamp('2024-01-01T00:00:00Z') + duration('36h')", datetime.datetime(2024, 1, 2, 12, tzinfo=datetime.timezone.utc)),
        ("timestamp('2024-01-02T00:00:00Z') - timestamp('2024-01-01T00:00:00Z')", datetime.timedelta(days=1)),
        # type() and dyn
        ("type(object) == map", True),
        ("type(object.spec.replicas) == int", True),
        ("type(object.spec.ratio) == double", True),
        ("type(1u) == uint", True),
    ],
)
def test_expression_evaluates_like_cel_go(env: CelEnvironment, expression: str, expected: object) -> None:
    assert evaluate(env, expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        # access to a missing JSON field is an error, worded as cel-go words it
        ("object.spec.paused", "no such key: paused"),
        ("object.metadata.annotations['x']", "no such key: annotations"),
        ("object.metadata.labels['team']", "no such key: team"),
        ("object.spec.template.spec.containers[1].ports", "no such key: ports"),
        ("{'a': 1}[dyn(2)]", "no such key: 2"),
        ("object.spec.template.spec.containers[5]", "index out of bounds: 5"),
        ("[1, 2][-1]", "index out of bounds: -1"),
        ("dyn([1])['a']", "unsupported index type 'string' in list"),
        # int64 / uint64 overflow
        ("9223372036854775807 + 1", "integer overflow"),
        ("-9223372036854775808 - 1", "integer overflow"),
        ("9223372036854775807 * 2", "integer overflow"),
        ("-(-9223372036854775808)", "integer overflow"),
        ("-9223372036854775808 / -1", "integer overflow"),
        ("0u - 1u", "unsigned integer overflow"),
        ("18446744073709551615u + 1u", "unsigned integer overflow"),
        ("object.spec.replicas / 0", "division by zero"),
        ("object.spec.replicas % 0", "modulus by zero"),
        # conversions
        ("int(object.data.text)", "type conversion error from 'string' to 'int'"),
        ("uint(object.data.minusOne)", "type conversion error from 'string' to 'uint'"),
        ("double(object.data.x)", "type conversion error from 'string' to 'double'"),
        ("int(object.data.big)", "integer overflow"),
        ("uint(object.data.minusOneInt)", "unsigned integer overflow"),
        ("int(object.data.huge)", "integer overflow"),  # JSON beyond int64 is a double, as in k8s
        ("duration(object.data.badDuration)", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("timestamp(object.data.badTimestamp)", "type conversion error from 'string' to 'google.protobuf.Timestamp'"),
                ("timestamp('9999-12-31T23:59:59Z') + duration('1h')", "timestamp overflow"),
        # regular expressions from data (RE2 errors in Go's regexp wording)
        ("'a'.matches(object.data.badRegex)", "error parsing regexp: missing closing ]: `[`"),
        ("'a'.matches(object.data.nestedRepeat)", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("'a'.matches(object.data.plus)", "error parsing regexp: missing argument to repetition operator: `+`"),
        ("'a'.matches(object.data.paren)", "error parsing regexp: unexpected ): `)`"),
        # dynamic dispatch failures
        ("dyn(1) + dyn('a')", "no such overload"),
        ("dyn(true) + dyn(1)", "no such overload: _+_"),
        ("size(dyn(1))", "no such overload: size"),
        ("dyn(null) < dyn(1)", "no such overload: _<_"),
        ("'a' in dyn(1)", "no such overload"),
        ("dyn(null) ? 1 : 2", "no such overload"),  # interpreter/interpretable.go evalConditional
        ("object.spec.replicas ? 1 : 2", "no such overload"),
        ("optional.none().value()", "optional.none() dereference"),
    ],
)
def test_runtime_error_uses_cel_go_message(env: CelEnvironment, expression: str, message: str) -> None:
    assert error_of(env, expression) == message


@pytest.mark.parametrize(
    ("cpp", "go"),
    [
        ('NOT_FOUND: Key not found in map : "x"', "no such key: x"),
        ('Key not found in map : "a\\"b"', 'no such key: a"b'),
        ("UNKNOWN: No matching overloads found : _+_(int64, string)", "no such overload"),
        ("No matching overloads found : (int64).startsWith(string)", "no such overload"),
        ("No matching overloads found : quantity(int64)", "no such overload: quantity(int)"),
        ("No matching overloads found : _*_(duration, int64)", "no such overload: _*_"),
        ("No matching overloads found : <jump_condition>", "no such overload"),
        # checked against kube-apiserver v1.35.8's cel-go (tests/oracle)
        ("No matching overloads found : find(null_type, string)", "no such overload"),
        ("No matching overloads found : findAll(list, string)", "no such overload"),
        ("No matching overloads found : sort(null_type)", "no such overload: sort"),
        ("No matching overloads found : add(struct, null_type)", "no such overload: add(kubernetes.Quantity, null_type)"),
        ("No matching overloads found : validate(struct, null_type)",
         "no such overload: validate(kubernetes.NamedFormat, null_type)"),
        ("No matching overloads found : containsIP(struct, null_type)", "no such overload: containsIP(net.CIDR, null_type)"),
        ("No matching overloads found : flatten(null_type)", "no such overload: null_type.flatten()"),
        ('UNKNOWN: No value with name "authorizer" found in Activation', "no such attribute(s): authorizer"),
        ("INVALID_ARGUMENT: divide by zero", "division by zero"),
        ("UNKNOWN: Index error: index=3 size=1", "index out of bounds: 3"),
        ("invalid regular expression: trailing \\", "error parsing regexp: trailing backslash at end of expression: ``"),
        ("invalid regular expression: invalid repetition size: {1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
        ('Duration "277777777h46m40s" above maximum allowed duration "87660000h0.999999999s"', "duration overflow"),
        # our own Python implementations already speak cel-go: passed through unchanged
        ("UNKNOWN: index out of range: 30", "index out of range: 30"),
        ("UNKNOWN: quantities must not be negative", "quantities must not be negative"),
    ],
)
def test_translate_maps_cel_cpp_text_to_cel_go(cpp: str, go: str) -> None:
    assert runtime_errors.translate(cpp) == go


def test_cel_bind_compiles_in_celgate_rewrites_for_type_checking_only(env: CelEnvironment) -> None:
    # composition.compose type-checks variables with cel.bind; cel-cpp's lazily bound slot can
    # read stale values (compat.py D30), so such a program is never run.
    expression = (
        "cel.bind(names, object.spec.template.spec.containers.map(c, c.name),"
        " names.size() == 2 && 'app' in names)"
    )
    compiled = env.compile(expression, internal=True)
    assert compiled.output_type == "BOOL"
    assert not compiled.runnable
    with pytest.raises(CelEvaluationError, match="type-checking only"):
        compiled.evaluate({"object": DEPLOYMENT})


def test_cel_bind_in_a_user_expression_is_an_undeclared_reference_as_in_kube_apiserver(env: CelEnvironment) -> None:
    # kube-apiserver's policy environment has no ext.Bindings (environment/base.go).
    with pytest.raises(CelCompileError) as caught:
        env.compile("cel.bind(x, 1, x == 1)")
    assert caught.value.message.startswith(
        "ERROR: <input>:1:1: undeclared reference to 'cel' (in container '')\n | cel.bind(x, 1, x == 1)\n | ^"
    )


@pytest.mark.xfail(strict=True, reason=compat.difference("D4"))
def test_field_selection_on_a_scalar_names_the_field(env: CelEnvironment) -> None:
    assert error_of(env, "object.spec.replicas.x") == "no such key: x"


def test_join_of_mixed_data_list_reports_the_element(env: CelEnvironment) -> None:
    assert error_of(env, "object.spec.items.join()") == "join: invalid input: 1"


@pytest.mark.xfail(strict=True, reason=compat.difference("D6"))
def test_unknown_time_zone_names_the_zone(env: CelEnvironment) -> None:
    message = error_of(env, "timestamp('2024-01-01T00:00:00Z').getHours(object.data.zone)")
    assert message == "unknown time zone bad/zone"


@pytest.mark.xfail(strict=True, reason=compat.difference("D8"))
def test_duration_milliseconds_are_the_total(env: CelEnvironment) -> None:
    assert evaluate(env, "duration('1.5s').getMilliseconds()") == 1500


@pytest.mark.xfail(strict=True, reason=compat.difference("D5"))
def test_duration_beyond_go_range_is_a_conversion_error(env: CelEnvironment) -> None:
    message = error_of(env, "duration(object.data.longDuration)")
    assert message == "type conversion error from 'string' to 'google.protobuf.Duration'"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("int('abc')", "type conversion error from 'string' to 'int'"),
        ("uint(-1) == 1u", "unsigned integer overflow"),
        ("string(b'\\xff')", "invalid UTF-8 in bytes, cannot convert to string"),
        ("object.spec.replicas > 1 || int(dyn('x')) == 1", "type conversion error from 'string' to 'int'"),
    ],
)
def test_failing_conversion_of_constants_does_not_compile(env: CelEnvironment, expression: str, message: str) -> None:
    # cel-go's OptOptimize folds conversions of constants while building the program.
    with pytest.raises(CelCompileError) as caught:
        env.compile(expression)
    assert caught.value.message == f"program instantiation failed: {message}"


@pytest.mark.parametrize(
    ("expression", "cel_go"),
    [
        ("int(object.data.text.replace('abc', ' 1'))", "type conversion error from 'string' to 'int'"),
        ("uint(object.data.text.replace('abc', '+1'))", "type conversion error from 'string' to 'uint'"),
    ],
)
@pytest.mark.xfail(strict=True, reason=compat.difference("D11"))
def test_padded_number_strings_do_not_convert(env: CelEnvironment, expression: str, cel_go: str) -> None:
    assert error_of(env, expression) == cel_go


@pytest.mark.parametrize(
    ("expression", "cel_go"),
    [
        ("string(double(object.data.text.replace('abc', 'NaN')))", "NaN"),
        ("string(duration(object.data.text.replace('abc', '1h1m1.5s')))", "3661.5s"),
    ],
)
@pytest.mark.xfail(strict=True, reason=compat.difference("D12"))
def test_string_of_special_values_prints_like_go(env: CelEnvironment, expression: str, cel_go: str) -> None:
    assert evaluate(env, expression) == cel_go


@pytest.mark.xfail(strict=True, reason=compat.difference("D13"))
def test_int_of_duration_is_nanoseconds(env: CelEnvironment) -> None:
    assert evaluate(env, "int(duration(object.data.text.replace('abc', '1s')))") == 1_000_000_000


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[1, 2].all(i, v, v > i)", True),
        ("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)", True),
        ("[1, 2, 3].existsOne(i, v, v == 2)", True),
        ("[1, 2, 3].transformList(i, v, v * 2)", [2, 4, 6]),
        ("[1, 2, 3].transformList(i, v, i > 0, v * 2)", [4, 6]),
    ],
)
def test_two_variable_comprehensions_work_as_in_kubernetes_1_32(expression: str, expected: object) -> None:
    env = CelEnvironment({"object": cel.Type.DYN})
    assert env.compile(expression).evaluate({"object": {}}) == expected


def test_transform_map_is_a_clear_compile_error() -> None:
    env = CelEnvironment({"object": cel.Type.DYN})
    with pytest.raises(CelCompileError, match="transformMap and transformMapEntry are not supported"):
        env.compile("{'a': 1}.transformMap(k, v, v + 1)")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("null.all(x, x)", "ERROR: <input>:1:1: expression of type 'null' cannot be range of a comprehension"
         " (must be list, map, or dynamic)\n | null.all(x, x)\n | ^"),
        ("1.map(x, x)", "ERROR: <input>:1:1: expression of type 'int' cannot be range of a comprehension"
         " (must be list, map, or dynamic)\n | 1.map(x, x)\n | ^"),
    ],
)
def test_comprehension_over_a_scalar_is_cel_go_s_compile_error(env: CelEnvironment, expression: str, message: str) -> None:
    with pytest.raises(CelCompileError) as caught:
        env.compile(expression)
    assert caught.value.message == message


def test_a_declared_variable_left_unbound_is_cel_go_s_missing_attribute() -> None:
    # auditAnnotations may read authorizer (declared), which upstream evaluates without one.
    env = CelEnvironment({"authorizer": cel.Type.DYN, "object": cel.Type.DYN})
    with pytest.raises(CelEvaluationError) as caught:
        env.compile("authorizer.path('/healthz').check('get').allowed()").evaluate({"object": {}})
    assert caught.value.message == "no such attribute(s): authorizer"


@pytest.mark.parametrize("expression", ["dyn(1) && true", "true && dyn(1)", "dyn(1) || false", "!dyn(1)"])
def test_logical_operators_on_a_non_bool_say_no_such_overload_as_cel_go(env: CelEnvironment, expression: str) -> None:
    # cel-go v0.26 evalAnd / evalOr / logical_not: MaybeNoSuchOverloadErr (found by tests/oracle_diff)
    with pytest.raises(CelEvaluationError, match="^no such overload$"):
        env.compile(expression).evaluate({})
