"""The Kubernetes list library, transcribed from kube-apiserver's tests.

Cases: apiextensions-apiserver v0.35.0 pkg/apiserver/schema/cel/validation_test.go
("stdlib list functions"), apiserver pkg/cel/library/lists.go examples.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cel_expr_python import cel
from google.protobuf import duration_pb2, timestamp_pb2

from webhook.cel import CelCompileError, CelEnvironment, CelEvaluationError

FIXTURE = json.loads((Path(__file__).parents[2] / "fixtures/cel/library/lists.json").read_text())
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}


def _duration(text: str) -> duration_pb2.Duration:
    # cel-cpp takes durations nested in a dyn list only as the protobuf well-known type.
    message = duration_pb2.Duration()
    message.FromTimedelta(datetime.timedelta(**{_UNITS[text[-1]]: int(text[:-1])}))
    return message


def _date(text: str) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(datetime.datetime.fromisoformat(text))
    return message


def _typed(fixture: dict) -> dict:
    """The object as the CRD schema types it: format duration / date lists become CEL values."""
    data = {key: value for key, value in fixture.items() if not key.startswith("_")}
    for key in ("durations", "unsortedDurations", "emptyDurations"):
        data[key] = [_duration(item) for item in data[key]]
    for key in ("dates", "unsortedDates", "emptyDates"):
        data[key] = [_date(item) for item in data[key]]
    return data


SELF = _typed(FIXTURE)


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"self": cel.Type.DYN})


def evaluate(env: CelEnvironment, expression: str):
    return env.compile(expression).evaluate({"self": SELF})


@pytest.mark.parametrize(
    "expression",
    [
        "self.ints.sum() == 8",
        "self.ints.min() == 1",
        "self.ints.max() == 3",
        "self.emptyInts.sum() == 0",
        "self.ints.isSorted()",
        "self.emptyInts.isSorted()",
        "self.unsortedInts.isSorted() == false",
        "self.ints.indexOf(2) == 1",
        "self.ints.lastIndexOf(2) == 2",
        "self.ints.indexOf(10) == -1",
        "self.ints.lastIndexOf(10) == -1",
        "self.doubles.sum() == 8.0",
        "self.doubles.min() == 1.0",
        "self.doubles.max() == 3.0",
        "self.emptyDoubles.sum() == 0.0",
        "self.doubles.isSorted()",
        "self.emptyDoubles.isSorted()",
        "self.unsortedDoubles.isSorted() == false",
        "self.doubles.indexOf(2.0) == 1",
        "self.doubles.lastIndexOf(2.0) == 2",
        "self.doubles.indexOf(10.0) == -1",
        "self.doubles.lastIndexOf(10.0) == -1",
        "self.intBackedDoubles.sum() == 8.0",
        "self.intBackedDoubles.min() == 1.0",
        "self.intBackedDoubles.max() == 3.0",
        "self.emptyIntBackedDDoubles.sum() == 0.0",
        "self.intBackedDoubles.isSorted()",
        "self.unsortedIntBackedDDoubles.isSorted() == false",
        "self.intBackedDoubles.indexOf(2.0) == 1",
        "self.intBackedDoubles.lastIndexOf(2.0) == 2",
        "self.intBackedDoubles.indexOf(10.0) == -1",
        "self.intBackedDoubles.lastIndexOf(10.0) == -1",
        "self.durations.sum() == duration('1h2m1s')",
        "self.durations.min() == duration('1s')",
        "self.durations.max() == duration('1h')",
        pytest.param(
            "self.emptyDurations.sum() == duration('0')",
            marks=pytest.mark.xfail(
                reason="the element type of an empty list is not visible at run time: sum() is int 0",
                strict=True,
            ),
        ),
        "self.durations.isSorted()",
        "self.emptyDurations.isSorted()",
        "self.unsortedDurations.isSorted() == false",
        "self.durations.indexOf(duration('1m')) == 1",
        "self.durations.lastIndexOf(duration('1m')) == 2",
        "self.durations.indexOf(duration('2m')) == -1",
        "self.durations.lastIndexOf(duration('2m')) == -1",
        "self.strings.min() == 'a'",
        "self.strings.max() == 'c'",
        "self.strings.isSorted()",
        "self.emptyStrings.isSorted()",
        "self.unsortedStrings.isSorted() == false",
        "self.strings.indexOf('b') == 1",
        "self.strings.lastIndexOf('b') == 2",
        "self.strings.indexOf('x') == -1",
        "self.strings.lastIndexOf('x') == -1",
        "self.dates.min() == timestamp('2000-01-01T00:00:00.000Z')",
        "self.dates.max() == timestamp('2010-01-01T00:00:00.000Z')",
        "self.dates.isSorted()",
        "self.emptyDates.isSorted()",
        "self.unsortedDates.isSorted() == false",
        "self.dates.indexOf(timestamp('2000-02-01T00:00:00.000Z')) == 1",
        "self.dates.lastIndexOf(timestamp('2000-02-01T00:00:00.000Z')) == 2",
        "self.dates.indexOf(timestamp('2005-02-01T00:00:00.000Z')) == -1",
        "self.dates.lastIndexOf(timestamp('2005-02-01T00:00:00.000Z')) == -1",
        # array, map and object types use structural equality (aka "deep equals")
        "[[1], [2]].indexOf([1]) == 0",
        "[{'a': 1}, {'b': 2}].lastIndexOf({'b': 2}) == 1",
        "self.objs.indexOf(self.objs[1]) == 1",
        "self.objs.lastIndexOf(self.objs[1]) == 2",
        "([0] + self.emptyInts).min() == 0",
        "dyn([]).sum() == 0",
        "dyn([1, 2]).sum() == 3",
        "dyn([1.0, 2.0]).sum() == 3.0",
        "[].sum() == 0",
        # lists.go doc examples
        "[1, 2, 3].isSorted()",
        "['a', 'b', 'b', 'c'].isSorted()",
        "![2.0, 1.0].isSorted()",
        "[1].isSorted()",
        "[].isSorted()",
        "[1, 3].sum() == 4",
        "[1.0, 3.0].sum() == 4.0",
        "[duration('1m'), duration('1s')].sum() == duration('1m1s')",
        "[1, 3].min() == 1",
        "[1, 3].max() == 3",
        "[1].min() == 1",
        "[1, 2, 2, 3].indexOf(2) == 1",
        "['a', 'b', 'b', 'c'].lastIndexOf('b') == 2",
        "[1.0].indexOf(1.1) == -1",
        "[].indexOf('string') == -1",
    ],
)
def test_valid_expression_is_true(env: CelEnvironment, expression: str) -> None:
    assert evaluate(env, expression) is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("self.emptyInts.min() == 1", "min called on empty list"),
        ("self.emptyInts.max() == 3", "max called on empty list"),
        ("self.emptyDoubles.min() == 1.0", "min called on empty list"),
        ("self.emptyDoubles.max() == 3.0", "max called on empty list"),
        ("self.emptyStrings.min() == 'a'", "min called on empty list"),
        ("self.emptyStrings.max() == 'c'", "max called on empty list"),
    ],
)
def test_min_and_max_of_empty_list_is_an_error(env: CelEnvironment, expression: str, message: str) -> None:
    with pytest.raises(CelEvaluationError) as caught:
        evaluate(env, expression)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("expression", "function", "receiver"),
    [
        # only sum on numbers and durations; min/max only on comparable element types
        ("['a', 'b'].sum() == 'c'", "sum", "list(string)"),
        ("[[1], [2]].min() == [1]", "min", "list(list(int))"),
        ("[{'a': 1}, {'b': 2}].max() == {'b': 2}", "max", "list(map(string, int))"),
    ],
)
def test_wrong_element_type_is_a_compile_error(env: CelEnvironment, expression: str, function: str, receiver: str) -> None:
    with pytest.raises(CelCompileError) as caught:
        env.compile(expression)
    # cel-go: "found no matching overload for 'sum' applied to 'list(string).()'"
    assert f"found no matching overload for '{function}' applied to" in caught.value.message
    assert receiver in caught.value.message


@pytest.mark.parametrize(
    ("expression", "output_type"),
    [
        ("[1, 2].sum()", "INT"),
        ("[1.0].max()", "DOUBLE"),
        ("['a'].min()", "STRING"),
        ("[1, 2].isSorted()", "BOOL"),
        ("[1, 2].indexOf(1)", "INT"),
    ],
)
def test_typed_overloads_give_cel_go_result_types(env: CelEnvironment, expression: str, output_type: str) -> None:
    assert env.compile(expression).output_type == output_type


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[3, 1, 2].min()", 1),
        ("[1.5, 0.5].max()", 1.5),
        ("['b', 'a'].min()", "a"),
        ("[b'b', b'a'].min()", b"a"),
        ("[true, false].min()", False),
        ("[duration('1m'), duration('1s')].max()", datetime.timedelta(minutes=1)),
        ("[1, 2, 2, 3].lastIndexOf(2)", 2),
        ("[dyn(1), dyn(2.5)].max()", 2.5),  # cel-go compares int and double
    ],
)
def test_result_value(env: CelEnvironment, expression: str, expected: object) -> None:
    assert evaluate(env, expression) == expected


def test_sum_overflow_is_an_error(env: CelEnvironment) -> None:
    with pytest.raises(CelEvaluationError) as caught:
        evaluate(env, "[9223372036854775807, 1].sum()")
    assert caught.value.message == "integer overflow"


# Checked against kube-apiserver v1.35.8's cel-go (tests/oracle): an element no overload takes
# names the call; a later element of another summable type is a bare "no such overload".
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("dyn([[1], [2]]).min()", "no such overload: min(list)"),
        ("dyn([{}]).max()", "no such overload: max(list)"),
        ("dyn([null]).isSorted()", "no such overload: isSorted(list)"),
        ("[dyn('a'), dyn(1)].sum()", "no such overload: sum(list)"),
        ("dyn([true]).sum()", "no such overload: sum(list)"),
        ("[dyn(1), dyn('a')].sum()", "no such overload"),
        ("[dyn(1), dyn('a')].join()", "no such overload: join(list)"),
        ("[dyn('a'), dyn(1)].join()", "join: invalid input: 1"),
    ],
)
def test_incomparable_or_unsummable_elements_are_cel_go_s_overload_errors(
    env: CelEnvironment, expression: str, message: str
) -> None:
    with pytest.raises(CelEvaluationError) as caught:
        evaluate(env, expression)
    assert caught.value.message == message


def test_index_of_uses_cel_equality_not_python_equality(env: CelEnvironment) -> None:
    # Python has True == 1; CEL does not. CEL has 1 == 1.0.
    assert evaluate(env, "dyn([true]).indexOf(1)") == -1
    assert evaluate(env, "dyn([1.0]).indexOf(1)") == 0


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # VAP objects are dyn: the runtime kind picks the list or the strings implementation.
        ("self.strings.indexOf('b')", 1),
        ("self.strings[1].indexOf('b')", 0),
        ("self.strings.lastIndexOf('b')", 2),
        ("self.strings[1].lastIndexOf('b')", 0),
        ("self.ints.sum()", 8),
        ("self.ints.max()", 3),
    ],
)
def test_dynamic_receivers_dispatch_by_runtime_kind(env: CelEnvironment, expression: str, expected: object) -> None:
    assert evaluate(env, expression) == expected
