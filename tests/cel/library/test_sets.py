"""cel-go's sets extension, transcribed from upstream tests.

Cases: cel-go v0.26.0 ext/sets_test.go (TestSets) and apiextensions-apiserver v0.35.0
validation_test.go ("CEL sets functions"). kube-apiserver rejects mixed-type list literals
(HomogeneousAggregateLiterals), so cel-go's mixed literals are written with ``dyn()`` elements.
"""

from __future__ import annotations

import pytest
from cel_expr_python import cel

from webhook.cel import CelEnvironment


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"x": cel.Type.List(cel.Type.INT)})


@pytest.mark.parametrize(
    "expression",
    [
        # cel-go ext/sets_test.go: set containment
        "sets.contains([], [])",
        "sets.contains([1], [])",
        "sets.contains([1], [1])",
        "sets.contains([1], [1, 1])",
        "sets.contains([1, 1], [1])",
        "sets.contains([2, 1], [1])",
        "sets.contains([1, 2, 3, 4], [2, 3])",
        "sets.contains([1], [dyn(1.0), dyn(1)])",
        "sets.contains([1, 2], [dyn(2u), dyn(2.0)])",
        "sets.contains([dyn(1), dyn(2u)], [dyn(2), dyn(2.0)])",
        "sets.contains([dyn(1), dyn(2.0), dyn(3u)], [dyn(1.0), dyn(2u), dyn(3)])",
        "sets.contains([[dyn(1)], [dyn(2), dyn(3)]], [[dyn(2), dyn(3.0)]])",
        "!sets.contains([1], [2])",
        "!sets.contains([1], [1, 2])",
        "!sets.contains([1], [dyn('1'), dyn(1)])",
        "!sets.contains([1], [dyn(1.1), dyn(1u)])",
        # set equivalence
        "sets.equivalent([], [])",
        "sets.equivalent([1], [1])",
        "sets.equivalent([1], [1, 1])",
        "sets.equivalent([1, 1], [1])",
        "sets.equivalent([1], [dyn(1u), dyn(1.0)])",
        "sets.equivalent([1, 2, 3], [dyn(3u), dyn(2.0), dyn(1)])",
        "sets.equivalent([[dyn(1.0)], [dyn(2), dyn(3)]], [[dyn(1)], [dyn(2), dyn(3.0)]])",
        "!sets.equivalent([2, 1], [1])",
        "!sets.equivalent([1], [1, 2])",
        "!sets.equivalent([1, 2], [dyn(2u), dyn(2), dyn(2.0)])",
        "!sets.equivalent([1, 2], [dyn(1u), dyn(2), dyn(2.3)])",
        # set intersection
        "sets.intersects([1], [1])",
        "sets.intersects([1], [1, 1])",
        "sets.intersects([1, 1], [1])",
        "sets.intersects([2, 1], [1])",
        "sets.intersects([1], [1, 2])",
        "sets.intersects([1], [dyn(1.0), dyn(2)])",
        "sets.intersects([1, 2], [dyn(2u), dyn(2), dyn(2.0)])",
        "sets.intersects([1, 2], [dyn(1u), dyn(2), dyn(2.3)])",
        "sets.intersects([[dyn(1)], [dyn(2), dyn(3)]], [[dyn(1), dyn(2)], [dyn(2), dyn(3.0)]])",
        "!sets.intersects([], [])",
        "!sets.intersects([1], [])",
        "!sets.intersects([1], [2])",
        "!sets.intersects([1], [dyn('1'), dyn(2)])",
        "!sets.intersects([1], [dyn(1.1), dyn(2u)])",
        # cel-go: a variable list
        "sets.contains(x, [1, 2, 3])",
        "!sets.contains(x, [1, 1, 1, 1, 6])",
        # apiextensions-apiserver validation_test.go
        "sets.contains(['a', 'b'], [])",
        "sets.contains(['a', 'b'], ['b'])",
        "!sets.contains(['a', 'b'], ['c'])",
        "sets.equivalent(['c', 'b', 'a'], ['b', 'c', 'a'])",
        "!sets.equivalent(['a', 'b'], ['b', 'c'])",
        "sets.intersects(['a', 'b'], ['b', 'c'])",
        "!sets.intersects(['a', 'b'], [])",
        "!sets.intersects(['a', 'b'], ['c', 'd'])",
        "sets.contains([1, 2], [2])",
        "sets.contains([true, false], [false])",
        "sets.contains([1.25, 1.5], [1.5])",
        "sets.contains([{'a': 1}, {'b': 2}], [{'b': 2}])",
        "sets.contains([[1, 2], [3, 4]], [[3, 4]])",
        "sets.contains([timestamp('2000-01-01T00:00:00.000+01:00'), timestamp('2012-01-01T00:00:00.000+01:00')], [timestamp('2012-01-01T00:00:00.000+01:00')])",
        "sets.contains([duration('1h'), duration('2h')], [duration('2h')])",
        "sets.equivalent([1, 2], [1, 2])",
        "sets.equivalent([true, false], [true, false])",
        "sets.equivalent([1.25, 1.5], [1.25, 1.5])",
        "sets.equivalent([{'a': 1}, {'b': 2}], [{'a': 1}, {'b': 2}])",
        "sets.equivalent([[1, 2], [3, 4]], [[1, 2], [3, 4]])",
        "sets.equivalent([timestamp('2012-01-01T00:00:00.000+01:00')], [timestamp('2012-01-01T00:00:00.000+01:00')])",
        "sets.equivalent([duration('1h'), duration('2h')], [duration('1h'), duration('2h')])",
        "sets.intersects([1, 2], [2])",
        "sets.intersects([true, false], [false])",
        "sets.intersects([1.25, 1.5], [1.5])",
        "sets.intersects([{'a': 1}, {'b': 2}], [{'b': 2}])",
        "sets.intersects([[1, 2], [3, 4]], [[3, 4]])",
        "sets.intersects([timestamp('2000-01-01T00:00:00.000+01:00'), timestamp('2012-01-01T00:00:00.000+01:00')], [timestamp('2012-01-01T00:00:00.000+01:00')])",
        "sets.intersects([duration('1h'), duration('2h')], [duration('2h')])",
    ],
)
def test_expression_is_true(env: CelEnvironment, expression: str) -> None:
    assert env.compile(expression).evaluate({"x": [5, 4, 3, 2, 1]}) is True


@pytest.mark.parametrize(
    "expression",
    [
        # Python's True == 1 must not leak into CEL's equality.
        "!sets.contains([dyn(true)], [dyn(1)])",
        "!sets.intersects([dyn(1)], [dyn(true)])",
        # maps compare by key and value, keys with CEL numeric equality
        "sets.contains([{1: 'a'}], [{dyn(1u): 'a'}])",
        "!sets.contains([{'a': 1}], [{'a': 2}])",
        "sets.contains([b'ab'], [b'ab'])",
    ],
)
def test_membership_uses_cel_equality(env: CelEnvironment, expression: str) -> None:
    assert env.compile(expression).evaluate({"x": []}) is True
