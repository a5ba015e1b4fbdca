"""The cost limit: an upper bound of cel-go's runtime cost, computed before evaluating."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from cel_expr_python import cel

from webhook.cel import CelCostError, CelEnvironment, runtime_cost
from webhook.cel.cost import estimate
from webhook.cel.cost_values import largest_sizes
from webhook.cel.environment import CostBudget
from webhook.cel.limits import PER_CALL_LIMIT, RUNTIME_CEL_COST_BUDGET

FIXTURES = Path(__file__).parents[1] / "fixtures/cel/cost"
POD = json.loads((FIXTURES / "pod.json").read_text())
POD_SECURITY = yaml.safe_load((FIXTURES / "pod_security_expressions.yaml").read_text())
PER_CALL_MESSAGE = "operation cancelled: actual cost limit exceeded"
BUDGET_MESSAGE = "validation failed due to running out of cost budget, no further validation rules will be run"


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({
        "object": cel.Type.DYN,
        "params": cel.Type.DYN,
        "input": cel.Type.STRING,
        "arg1": cel.Type.STRING,
        "data": cel.Type.BYTES,
        "list1": cel.Type.List(cel.Type.INT),
        "list2": cel.Type.List(cel.Type.INT),
        "str1": cel.Type.STRING,
        "str2": cel.Type.STRING,
    })


# cel-go interpreter/runtimecost_test.go: expression, inputs, cel-go's actual runtime cost.
@pytest.mark.parametrize(
    ("expression", "inputs", "cel_go_cost"),
    [
        ("[1, 2, 3]", {}, 10),
        ("{'a': 1, 'b': 2, 'c': 3}", {}, 30),
        ("[1, 2, 3].all(x, true)", {}, 20),
        ("input.matches('[0-9]')", {"input": "a" * 500}, 103),
        ("'123'.matches('[0-9]')", {}, 2),
        # 13 in runtimecost_test.go; kube-apiserver evaluates with OptOptimize, which makes
        # membership in a constant list a set lookup charged nothing (runtime_cost.py agrees)
        ("2 in [1, 2, 3]", {}, 0),
        ("1 < 2", {}, 1),
        ("true ? 1 : 2", {}, 0),
        ("false ? false : 1 > 3", {}, 1),
        ("'12345678901234567890' == '123456789012345678901234567890'", {}, 2),
        ("string(data)", {"data": b"a" * 500}, 51),
        ("bytes(input)", {"input": "a" * 500}, 51),
        ("string(1)", {}, 1),
        ("input.contains(arg1)", {"input": "a" * 500, "arg1": "b" * 500}, 2502),
        ("input.startsWith(arg1)", {"input": "idc", "arg1": "b" * 500}, 3),
        ("size(input)", {"input": "500"}, 2),
        ("(list1 + list2).all(x, true)", {"list1": [], "list2": []}, 4),
        ("'abcdefg'.contains(str1 + str2)", {"str1": "val1", "str2": "val2222222"}, 6),
        ("(1 > 2 ? 5 : 3) > 1", {}, 2),
        ("[{'k1': 1}, {'k2': 2}].all(x, true)", {}, 77),
    ],
)
def test_estimate_equals_cel_go_cost_when_nothing_short_circuits(env, expression, inputs, cel_go_cost) -> None:
    assert env.compile(expression).estimate_cost(inputs) == cel_go_cost


@pytest.mark.parametrize(
    ("expression", "inputs", "cel_go_cost", "estimate_cost"),
    [
        # cel-go short-circuits; the bound charges both sides
        ("str1 == 'x' || str2 == 'y' || str1 == 'z'", {"str1": "x", "str2": "y"}, 2, 6),
        # cel-go charges a presence test on JSON data as one qualifier less
        ("has(object.testAttr.nestedAttr)", {"object": {"testAttr": {"nestedAttr": "0"}}}, 2, 3),
    ],
)
def test_estimate_stays_above_cel_go_cost_where_documented(env, expression, inputs, cel_go_cost, estimate_cost) -> None:
    assert env.compile(expression).estimate_cost(inputs) == estimate_cost >= cel_go_cost


def _rejected_quickly(env: CelEnvironment, expression: str, activation: dict) -> float:
    compiled = env.compile(expression, internal=True)  # cel.bind: only celgate's own rewrites use it
    started = time.perf_counter()
    with pytest.raises(CelCostError) as caught:
        compiled.evaluate(activation)
    elapsed = time.perf_counter() - started
    assert caught.value.message == PER_CALL_MESSAGE and caught.value.per_call
    return elapsed


def test_nested_comprehension_over_5000_items_is_rejected_before_running(env) -> None:
    items = [{"name": f"item-{i}", "value": i} for i in range(5000)]
    # 25 million iterations in cel-cpp; the estimate never iterates
    elapsed = _rejected_quickly(env, "object.items.all(x, object.items.all(y, x != y))", {"object": {"items": items}})
    assert elapsed < 0.5


def test_string_replace_blow_up_is_rejected_before_allocating(env) -> None:
    # 1,000 -> 1,000,000 -> 1,000,000,000 characters
    expression = "input.replace('a', input).replace('a', input).replace('a', input).size() > 0"
    assert _rejected_quickly(env, expression, {"input": "a" * 1000}) < 0.1


def test_doubling_through_bindings_is_rejected(env) -> None:
    expression = "cel.bind(a, input + input, cel.bind(b, a + a, cel.bind(c, b + b, cel.bind(d, c + c, (d + d).size()))))"
    assert env.compile(expression, internal=True).estimate_cost({"input": "x" * 10}) < 1000
    assert _rejected_quickly(env, expression, {"input": "x" * 1_000_000}) < 0.1


def test_join_of_a_big_list_is_rejected(env) -> None:
    names = ["n" * 1000] * 6000  # a 6,000,000-character result
    assert _rejected_quickly(env, "object.names.join(',').size() > 0", {"object": {"names": names}}) < 0.1


def test_join_of_a_mapped_list_is_bounded_by_its_elements(env) -> None:
    items = [{"name": "x" * 200} for _ in range(30_000)]
    assert _rejected_quickly(env, "object.items.map(i, i.name + i.name).join(',') != ''", {"object": {"items": items}}) < 0.5


@pytest.mark.parametrize("expression", ["input.matches('^(a|b)*c$')", "input.find('(a|b)*c') == ''", "input.findAll('(a+)+b') == []"])
def test_regex_on_long_input_is_rejected(env, expression) -> None:
    assert _rejected_quickly(env, expression, {"input": "a" * 5_000_000}) < 0.1


def test_unresolvable_data_is_assumed_as_large_as_the_largest_value_present(env) -> None:
    # params is not in the activation: the bound takes the 5,000-item list as its size
    activation = {"object": {"items": list(range(5000))}}
    assert _rejected_quickly(env, "params.a.all(x, params.b.all(y, x == y))", activation) < 0.5


def test_unchecked_expressions_are_bounded_too(env) -> None:
    # cross-type numeric comparison: compiled unchecked, so there are no overload ids
    compiled = env.compile("object.items.all(x, object.items.all(y, size(x) < 1.5))")
    assert not compiled.checked
    items = [{"v": i} for i in range(3000)]
    assert _rejected_quickly(env, compiled.source, {"object": {"items": items}}) < 0.5


@pytest.mark.parametrize("case", POD_SECURITY, ids=[case["name"] for case in POD_SECURITY])
def test_pod_security_expressions_stay_far_below_the_limit_and_evaluate(env, case) -> None:
    compiled = env.compile(case["expression"])
    # the composed cases inline their variables, each read costed again (at most 4 times here)
    assert compiled.estimate_cost({"object": POD}) < PER_CALL_LIMIT // (25 if case["name"].startswith("composed") else 100)
    assert compiled.evaluate({"object": POD}) == case["result"]


def test_estimate_of_a_typical_expression_takes_microseconds(env) -> None:
    compiled = env.compile(POD_SECURITY[0]["expression"])
    activation = {"object": POD}
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(200):
            compiled.estimate_cost(activation)
        runs.append((time.perf_counter() - started) / 200)
    assert min(runs) < 0.001  # typically 20-60 microseconds; generous for a loaded CI machine


def test_a_prebuilt_activation_is_sized_from_the_plain_data(env) -> None:
    items = [{"name": f"item-{i}"} for i in range(5000)]
    compiled = env.compile("object.items.all(x, object.items.all(y, x != y))")
    activation = env.activation({"object": {"items": []}})
    with pytest.raises(CelCostError):
        compiled.evaluate(activation, sizes={"object": {"items": items}})


def test_binding_budget_is_shared_and_exhausted_with_kube_apiserver_message(env) -> None:
    compiled = env.compile("input.contains(arg1)")
    activation = {"input": "a" * 10_000, "arg1": "b" * 5_000}
    per_evaluation = compiled.estimate_cost(activation)
    assert per_evaluation == 500_002 < PER_CALL_LIMIT
    budget = CostBudget()
    assert budget.limit == RUNTIME_CEL_COST_BUDGET == 10_000_000
    evaluated = 0
    with pytest.raises(CelCostError) as caught:
        while evaluated < 100:
            compiled.evaluate(activation, budget=budget)
            evaluated += 1
    assert evaluated == RUNTIME_CEL_COST_BUDGET // per_evaluation
    assert caught.value.message == BUDGET_MESSAGE and not caught.value.per_call


def test_estimate_accepts_non_mapping_activations_as_unsized(env) -> None:
    compiled = env.compile("size(input) > 1")
    assert estimate(compiled.ast, object()) == 3  # type: ignore[arg-type]


def test_doubling_a_list_through_bindings_is_rejected_before_copying(env) -> None:
    # cel-go charges list concatenation 1; cel-cpp copies, so 2**20 copies of a big list is refused
    doublings = "cel.bind(l0, object.items, " + "".join(f"cel.bind(l{i + 1}, l{i} + l{i}, " for i in range(20))
    expression = doublings + "size(l20) > 0" + ")" * 21
    # on dyn operands ``+`` is charged as string concatenation could be: 0.1 per element
    assert env.compile(expression, internal=True).estimate_cost({"object": {"items": [1]}}) < PER_CALL_LIMIT
    assert _rejected_quickly(env, expression, {"object": {"items": list(range(1000))}}) < 0.1


# A flattened list is as long as all its element lists together, longer than any list of the
# request: the bound for any data of the size class stays above cel-go's actual cost.
FLATTENED_CONTAINERS = {"containers": [{"add": [f"C{i}_{j}" for j in range(60)]} for i in range(60)]}


@pytest.mark.parametrize("expression", [
    "object.containers.map(c, c.add).flatten()",
    "object.containers.map(c, c.add).flatten().map(x, x + 'a')",
    "object.containers.map(c, c.add).flatten().sort()",
    "object.containers.map(c, c.add).flatten().distinct().size() > 0",
    "[object.containers.map(c, c.add)].flatten(2).map(x, x)",
    "object.containers.map(c, c.add).flatten(0).map(l, size(l))",
])
def test_flattened_lists_are_bounded_by_all_their_elements(env, expression) -> None:
    compiled = env.compile(expression)
    activation = {"object": FLATTENED_CONTAINERS}
    _, actual = runtime_cost.evaluate(compiled.ast, env.calls(), activation, 10**12)
    assert compiled.estimate_cost(activation) >= actual
    assert compiled.uniform_cost(*largest_sizes(FLATTENED_CONTAINERS)) >= actual


# interpreter/decorators.go maybeOptimizeSetMembership: `x in [scalar constants]` is a set
# lookup that cel-go charges nothing for; the bound charges the element only.
@pytest.mark.parametrize(("expression", "estimate_cost"), [
    ("object.add.filter(x, !(x in ['CHOWN', 'KILL']))", 913),
    ("object.add.exists(x, x in ['a', 'b'])", 303),
    ("object.add[0] in []", 3),
])
def test_membership_in_a_constant_list_costs_the_element_only(env, expression, estimate_cost) -> None:
    compiled = env.compile(expression)
    activation = {"object": {"add": ["A", "B", "CHOWN"] * 20}}
    _, actual = runtime_cost.evaluate(compiled.ast, env.calls(), activation, 10**9)
    assert compiled.estimate_cost(activation) == estimate_cost >= actual
    assert compiled.uniform_cost(64, 64) >= actual


# ``+`` on dyn operands may join strings (as long as both) or lists (as many elements as both):
# a comprehension ranges over the list reading only.
@pytest.mark.parametrize(("expression", "small_class_bound"), [
    ("(object.a + object.b).map(c, c.name)", 252),
    ("(object.a + object.b + object.a).filter(c, c.name != '')", 410),
    ("size(object.a[0].name + object.b[0].name) > 0", 23),
])
def test_joined_dyn_lists_are_iterated_as_long_as_both(env, expression, small_class_bound) -> None:
    compiled = env.compile(expression)
    data = {"a": [{"name": "x" * 60} for _ in range(7)], "b": [{"name": "y"} for _ in range(8)]}
    _, actual = runtime_cost.evaluate(compiled.ast, env.calls(), {"object": data}, 10**9)
    assert compiled.uniform_cost(*largest_sizes(data)) == small_class_bound >= actual
    assert compiled.estimate_cost({"object": data}) >= actual


# substring(start, end) is charged as a pass over its receiver and is end - start long.
@pytest.mark.parametrize(("expression", "estimate_cost"), [
    ("object.s.substring(0, 100) + object.s.substring(0, 100)", 624),
    ("(object.s + object.s).substring(10, 2000) + 'a'", 1404),
    ("object.s.substring(object.n, 3000) + 'a'", 604),
    ("object.s.substring(5) + 'a'", 603),
])
def test_a_substring_is_bounded_by_its_end(env, expression, estimate_cost) -> None:
    compiled = env.compile(expression)
    data = {"s": "x" * 3000, "n": 3}
    _, actual = runtime_cost.evaluate(compiled.ast, env.calls(), {"object": data}, 10**9)
    assert compiled.estimate_cost({"object": data}) == estimate_cost >= actual
    assert compiled.uniform_cost(*largest_sizes(data)) >= actual
