"""compat.py D30: cel-cpp's lazily bound cel.bind slot after a short-circuited comprehension.

Two kinds of check. The raw ones pin cel-expr-python's behaviour itself, with no celgate code:
they fail when a release fixes the defect (then D30, the rewrites and this file can go) or
changes it (then the rewrites must be re-examined). The celgate ones require cel-go's answers
for the same shapes through every path an expression can take: ``celgate eval``'s environment,
has() on all kinds of operands, optMap/optFlatMap, and policies whose variables are read after
short-circuited comprehensions.
"""

from __future__ import annotations

import pytest
from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional

from webhook.cel import CelCompileError, CelEnvironment, compat
from webhook.cel.ast import decode_checked

_RAW_ENV = cel.NewEnv(
    variables={"x": cel.Type.DYN}, extensions=[ext_bindings.ExtBindings(), ext_optional.ExtOptional()]
)

# (expression, what cel-expr-python 0.1.3 answers, what cel-go answers)
RAW_DEFECT = [
    ("[1,2].all(k, k == 2) || cel.bind(p, 'x', p) == 'x'", False, True),
    ("[1,2].exists(k, k == 1) && cel.bind(p, 'x', p) == 'x'", False, True),
    ("[1,2].all(k, k == 2) ? dyn(0) : dyn(cel.bind(p, 'x', p))", 2, "x"),
    ("[1,2].all(k, k == 2) ? dyn(0) : dyn(optional.of('x').optMap(p, p).value())", 2, "x"),
    ("[1,2].all(k, k == 2) ? dyn(0) : dyn(optional.of('x').optFlatMap(p, optional.of(p)).value())", 2, "x"),
    # nested: the inner loop's slot (depth 1) goes stale for the second element
    ("[1,2].map(j, [1,2].all(k, k == j) ? dyn(0) : dyn(cel.bind(p, 'x', p)))", ["x", 2], ["x", "x"]),
    # a second bind inside the first: only the slot the loop used is stale
    ("[1,2].all(k, k == 2) ? dyn(0) : dyn(cel.bind(p, 'x', cel.bind(q, 'y', [q, p])))", ["y", 2], ["y", "x"]),
]

# Shapes that are not affected (comprehensions that run to the end, iteration variables,
# other depths): cel-expr-python already agrees with cel-go, and must keep doing so.
RAW_UNAFFECTED = [
    ("[1,2].exists_one(k, k == 5) ? dyn(0) : dyn(cel.bind(p, 'x', p))", "x"),
    ("[1,2].filter(k, k == 5).size() == 1 ? dyn(0) : dyn(cel.bind(p, 'x', p))", "x"),
    ("[1,2].all(k, k == 2) ? dyn(0) : dyn([1].map(p, 'x'))", ["x"]),
    ("[1,2].all(k, k == 2) ? dyn(0) : dyn([3].map(p, p))", [3]),
    ("[[1,2]].all(j, j.all(k, k == 2)) ? dyn(0) : dyn(cel.bind(p, 'x', p))", "x"),
]


def _raw(expression: str):
    return _RAW_ENV.compile(expression).eval(data={"x": 1}).plain_value()


@pytest.mark.parametrize("expression,cel_cpp,cel_go", RAW_DEFECT, ids=[c[0] for c in RAW_DEFECT])
def test_cel_expr_python_still_reads_a_stale_bind_slot(expression, cel_cpp, cel_go) -> None:
    answer = _raw(expression)
    assert answer != cel_go, f"cel-expr-python now answers {answer!r} like cel-go: D30 may be fixed"
    assert answer == cel_cpp, f"cel-expr-python changed its answer to {answer!r}: re-examine D30"


@pytest.mark.parametrize("expression,cel_go", RAW_UNAFFECTED, ids=[c[0] for c in RAW_UNAFFECTED])
def test_cel_expr_python_unaffected_shapes_agree_with_cel_go(expression, cel_go) -> None:
    assert _raw(expression) == cel_go


def test_a_lazily_bound_comprehension_is_recognised() -> None:
    program = _RAW_ENV.compile("optional.of(1).optMap(p, p)")
    assert compat.lazily_bound(decode_checked(program.serialize(), "optional.of(1).optMap(p, p)"))
    program = _RAW_ENV.compile("[1].map(p, p)")
    assert not compat.lazily_bound(decode_checked(program.serialize(), "[1].map(p, p)"))


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    from webhook.policy.compiler import environment

    return environment(False)


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
    "spec": {"template": {"spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x"}]}}},
}

# (expression, cel-go's answer over {"object": DEPLOYMENT}); cel-go answers checked by hand
# against kube-apiserver v1.35.8 for the first one (issue 10).
CELGATE_CASES = [
    ("['Deployment','ReplicaSet'].all(kind, object.kind != kind) || !has(object.spec.template.spec.hostNetwork)", False),
    ("['ReplicaSet','Deployment'].all(kind, object.kind != kind) || !has(object.spec.template.spec.hostNetwork)", False),
    ("['Deployment'].exists(kind, object.kind == kind) && has(object.spec.template.spec.hostNetwork)", True),
    ("object.spec.template.spec.containers.all(c, c.name == 'other') || has(object.spec.template.spec.hostNetwork)", True),
    ("object.spec.template.spec.containers.exists(c, c.name == 'c') && !has(object.spec.template.spec.hostPID)", True),
    # presence on null and scalars after a short circuit
    ("[1,2].all(k, k == 2) || !has(oldObject.spec)", True),
    ("[1,2].all(k, k == 2) || has(object.kind.x)", False),
    ("[1,2].exists(k, k == 1) && object.?spec.?template.?spec.?hostNetwork.orValue(false)", True),
    ("[1,2].all(k, k == 2) ? 'no' : optional.of('x').optMap(p, p).value()", "x"),
    ("[1,2].all(k, k == 2) ? 'no' : optional.of('x').optFlatMap(p, optional.of(p + 'y')).value()", "xy"),
    ("[1,2].all(k, k == 2) ? 0 : optional.of(optional.of(1)).optMap(o, o.optMap(p, p + 1)).value().value()", 2),
    ("object.spec.template.spec.containers.map(c, [1,2].all(k, k == 2) ? 'no' : optional.of(c.name).optMap(n, n + '!').value())", ["c!"]),
    # two-variable comprehensions that short-circuit
    ("[1,2].all(i, v, v == 2) || has(object.spec.template.spec.hostNetwork)", True),
    ("{'a': 1}.exists(k, v, v == 1) && has(object.spec.template.spec.hostNetwork)", True),
]


@pytest.mark.parametrize("expression,cel_go", CELGATE_CASES, ids=[c[0] for c in CELGATE_CASES])
def test_celgate_answers_as_cel_go_after_a_short_circuit(env, expression, cel_go) -> None:
    assert env.compile(expression).evaluate({"object": DEPLOYMENT, "oldObject": None}) == cel_go


def test_no_program_celgate_runs_holds_a_lazily_bound_slot(env) -> None:
    for expression, _ in CELGATE_CASES:
        compiled = env.compile(expression)
        program_ast = decode_checked(compiled.program.serialize(), expression)
        assert not compat.lazily_bound(program_ast), expression


def test_an_expression_that_would_still_run_a_lazy_slot_is_refused(env) -> None:
    # optMap whose variable is not a plain identifier cannot be rewritten exactly; the macro
    # itself rejects it, so refusing is never needed for valid CEL. A user's cel.bind is an
    # undeclared reference, as in kube-apiserver.
    with pytest.raises(CelCompileError, match="undeclared reference to 'cel'"):
        env.compile("cel.bind(p, 1, p)")
