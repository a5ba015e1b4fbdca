"""Optional types as cel-go's OptionalTypes() library provides them to kube-apiserver (1.28+)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cel_expr_python import cel

from webhook.cel import CelCompileError, CelEnvironment, CelEvaluationError, compat

DEPLOYMENT = json.loads((Path(__file__).parents[1] / "fixtures/cel/deployment.json").read_text())


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"object": cel.Type.DYN})


def evaluate(env: CelEnvironment, expression: str):
    return env.compile(expression).evaluate({"object": DEPLOYMENT})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # ?. optional field selection on JSON data
        ("object.?spec.?replicas.orValue(1)", 3),
        ("object.?spec.?paused.orValue(false)", False),
        ("object.?metadata.?annotations.?owner.orValue('nobody')", "nobody"),
        ("object.?spec.?paused.hasValue()", False),
        ("object.?spec.?replicas.hasValue()", True),
        ("object.?spec.?replicas.value()", 3),
        ("object.spec.?paused.or(optional.of(true)).value()", True),
        ("object.spec.?replicas.or(optional.of(7)).value()", 3),
        ("object.?metadata.name.orValue('x')", "web"),  # selection after ?. stays optional
        # [?...] optional index
        ("object.spec.template.spec.containers[?0].?name.orValue('')", "app"),
        ("object.spec.template.spec.containers[?9].?name.orValue('none')", "none"),
        ("object.metadata.labels[?'team'].orValue('unset')", "unset"),
        ("object.metadata.labels[?'app'].value()", "web"),
        ("{'a': 1}[?'b'].hasValue()", False),
        ("[1, 2][?1].value()", 2),
        # constructors
        ("optional.of(1).value()", 1),
        ("optional.of(null).hasValue()", True),
        ("optional.none().hasValue()", False),
        ("optional.none().orValue(5)", 5),
        ("optional.none().or(optional.none()).hasValue()", False),
        ("optional.ofNonZeroValue(0).hasValue()", False),
        ("optional.ofNonZeroValue('').hasValue()", False),
        ("optional.ofNonZeroValue([]).hasValue()", False),
        ("optional.ofNonZeroValue({}).hasValue()", False),
        ("optional.ofNonZeroValue(false).hasValue()", False),
        ("optional.ofNonZeroValue(2).value()", 2),
        ("optional.ofNonZeroValue({'a': 1}).value()", {"a": 1}),
        # equality
        ("optional.of(1) == optional.of(1)", True),
        ("optional.none() == optional.none()", True),
        ("optional.of(1) != optional.none()", True),
        # optional entries in literals
        ("[1, ?optional.none(), ?optional.of(3)]", [1, 3]),
        ("[?object.?spec.?replicas, ?object.?spec.?paused]", [3]),
        ("{'a': 1, ?'b': optional.none(), ?'c': optional.of(2)}", {"a": 1, "c": 2}),
        ("{?'replicas': object.?spec.?replicas}", {"replicas": 3}),
        # optMap / optFlatMap macros, first / last
        ("optional.of(1).optMap(x, x + 1).value()", 2),
        ("optional.none().optMap(x, x + 1).hasValue()", False),
        ("object.?spec.?replicas.optFlatMap(r, r > 1 ? optional.of(r) : optional.none()).value()", 3),
        ("[1, 2, 3].first().value()", 1),
        ("[1, 2, 3].last().value()", 3),
        ("[].first().hasValue()", False),
        # type of an optional
        ("type(optional.none()) == type(optional.of(1))", True),
    ],
)
def test_optional_expression(env: CelEnvironment, expression: str, expected: object) -> None:
    assert evaluate(env, expression) == expected


def test_value_of_none_is_an_error(env: CelEnvironment) -> None:
    with pytest.raises(CelEvaluationError, match=r"^optional.none\(\) dereference$"):
        evaluate(env, "object.?spec.?paused.value()")


def test_has_rejects_an_optional_selection(env: CelEnvironment) -> None:
    with pytest.raises(CelCompileError, match="has\\(\\) argument must be a field selection"):
        env.compile("has(object.?spec)")


def test_optional_index_on_dyn_cannot_be_an_optional_element(env: CelEnvironment) -> None:
    # compat.py D10: cel-cpp types it dyn; cel-go v0.26.0 panics on it; neither accepts it.
    containers = "object.spec.template.spec.containers"
    with pytest.raises(CelCompileError, match="expected type 'optional_type\\(dyn\\)' but found 'dyn'"):
        env.compile(f"[?{containers}[?5], ?{containers}[?0]]")


@pytest.mark.xfail(strict=True, reason=compat.difference("D9"))
def test_unwrap_drops_empty_optionals(env: CelEnvironment) -> None:
    assert evaluate(env, "optional.unwrap([optional.of(1), optional.none()])") == [1]


@pytest.mark.xfail(strict=True, reason=compat.difference("D9"))
def test_unwrap_opt_drops_empty_optionals(env: CelEnvironment) -> None:
    assert evaluate(env, "[optional.of(1), optional.none()].unwrapOpt()") == [1]
