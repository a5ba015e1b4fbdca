"""has() and ``.?`` on null and scalars answer false / none, as kube-apiserver's cel-go does."""

from __future__ import annotations

import pytest
from cel_expr_python import cel

from webhook.cel import CelEnvironment, CelEvaluationError
from webhook.cel.presence import rewrite

POD = {
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "containers": [{"name": "app", "securityContext": {"privileged": False}}]},
}


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({"object": cel.Type.DYN, "oldObject": cel.Type.DYN, "params": cel.Type.DYN})


def evaluate(env: CelEnvironment, expression: str, old: object = None) -> object:
    return env.compile(expression).evaluate({"object": POD, "oldObject": old, "params": None})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # null: oldObject on CREATE, params without a paramRef
        ("has(oldObject.metadata)", False),
        ("!has(oldObject.spec) || oldObject.spec.replicas <= object.spec.replicas", True),
        ("oldObject.?spec.hasValue()", False),
        ("oldObject.?spec.?replicas.orValue(0)", 0),
        ("params.?maxReplicas.orValue(5) >= object.spec.replicas", True),
        # scalars
        ("has(object.metadata.name.first)", False),
        ("object.spec.replicas.?x.hasValue()", False),
        # maps behave as before, also inside macros and next to other tests
        ("has(object.spec)", True),
        ("has(object.spec.paused)", False),
        ("object.spec.containers.all(c, has(c.securityContext) && !c.?securityContext.?privileged.orValue(true))", True),
        ("object.?spec.?replicas.orValue(0)", 2),
        ("object.metadata.labels.?app.orValue('')", "web"),
        ("object.spec.containers[?0].?name.orValue('')", "app"),
        ("object.spec.containers[?3].?name.orValue('none')", "none"),
        ("has(object.spec) // a trailing comment", True),
        ("has(\n  object\n  .spec\n)", True),
        ("'in' in ['in'] && has(object.metadata)", True),
    ],
)
def test_presence_follows_cel_go(env: CelEnvironment, expression: str, expected: object) -> None:
    assert evaluate(env, expression) == expected


def test_presence_on_an_existing_old_object_still_reads_it(env: CelEnvironment) -> None:
    old = {"spec": {"replicas": 5}}
    assert evaluate(env, "has(oldObject.spec) && oldObject.spec.replicas > object.spec.replicas", old) is True


def test_presence_on_a_list_is_still_an_error(env: CelEnvironment) -> None:
    # cel-go: "unsupported index type 'string' in list"; cel-cpp's text differs (compat.py D5).
    with pytest.raises(CelEvaluationError):
        evaluate(env, "has(object.spec.containers.name)")


def test_presence_on_a_failing_operand_reports_the_operand_error(env: CelEnvironment) -> None:
    with pytest.raises(CelEvaluationError, match="^no such key: missing$"):
        evaluate(env, "has(object.missing.name)")


def test_rewrite_evaluates_the_operand_once_and_keeps_the_rest(env: CelEnvironment) -> None:
    compiled = env.compile("size(object.spec.containers) > 0 && has(oldObject.spec)")
    assert rewrite(compiled.ast) == (
        "size(object.spec.containers) > 0 && [oldObject].all(__celgate_p0, "
        "type(__celgate_p0) in [map, list] ? has(__celgate_p0.spec) : false)"
    )


def test_expression_without_presence_tests_is_not_rewritten(env: CelEnvironment) -> None:
    assert rewrite(env.compile("object.spec.replicas > 1").ast) is None
