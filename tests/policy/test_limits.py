"""Cost and iteration limits exactly where kube-apiserver has them (issue 10).

cel-go charges cost as the program runs and each variable once per evaluation, and has no
comprehension iteration cap; celgate's cheap upper bound and cel-cpp's 10,000-iteration cap
must never decide differently. The expected outcomes are kube-apiserver v1.35.8's for the same
policies and objects (server-side dry-run); the e2e differential re-checks them against it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.dispatcher import decide
from webhook.policy.loader import load_policy_set

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "policy" / "limits"
PER_CALL = "resulted in error: operation cancelled: actual cost limit exceeded"


@pytest.fixture(scope="module")
def limits():
    return load_policy_set([FIXTURES / "policies.yaml"])


def _pod(label: str, env: int) -> dict:
    container = {"name": "main", "image": "celgate.invalid/noop:0", "env": [{"name": f"VAR_{i}", "value": "x"} for i in range(env)]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{label}-{env}", "namespace": "default", "labels": {"limits": label}},
            "spec": {"containers": [container]}}


@pytest.mark.parametrize(("label", "env", "denial"), [
    ("env-exists", 300, None),        # 90,000 iterations: past cel-cpp's cap, within cel-go's cost
    ("env-exists", 600, PER_CALL),    # both deny
    ("env-never", 600, None),         # short-circuits after one element: the bound does not count
    ("env-never", 2000, None),
])
def test_nested_comprehensions_fail_exactly_where_cel_go_does(limits, request_for, label, env, denial):
    decision = decide(limits, request_for(_pod(label, env)), StaticClusterData())
    if denial is None:
        assert decision.allowed, decision.status.message
    else:
        assert not decision.allowed and denial in decision.status.message


def test_a_variable_is_charged_once_however_many_expressions_read_it(limits, request_for, configmap):
    # matches() over 1,000,000 characters costs about 500,000; read by 40 validations
    obj = configmap("variable-once", labels={"limits": "variable-once"}, data={"big": "a" * 1_000_000})
    decision = decide(limits, request_for(obj), StaticClusterData())
    assert decision.allowed, decision.status.message
