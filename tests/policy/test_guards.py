"""Guards: a variable of a filter plan is computed only where some read of it can be reached,
as kube-apiserver's lazy variables are (webhook/policy/guards.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.admission.dry_run import DryRunRequest, attributes_for_documents, cluster_for
from webhook.documents import Document
from webhook.policy import guards, validator
from webhook.policy.compiler import environment
from webhook.policy.dispatcher import decide
from webhook.policy.loader import load_policy_set

NAMES = {"ok", "detail", "sorted", "other"}


def _reads(expression: str) -> dict[str, list[guards.Conjunction]]:
    return guards.branch_reads(environment(False).compile(expression, internal=True).ast, NAMES)


def test_a_read_in_a_branch_carries_the_condition_as_written() -> None:
    reads = _reads("(size(variables.ok) == 0 && object.kind == 'Pod') ? '' : variables.detail.join(', ')")
    assert reads["ok"] == [()]
    assert reads["detail"] == [(("(size(variables.ok) == 0 && object.kind == 'Pod')", False),)]


def test_nested_conditionals_give_a_conjunction() -> None:
    reads = _reads("variables.ok ? (object.kind == 'Pod' ? variables.detail : '') : variables.other")
    assert reads["detail"] == [(("variables.ok", True), ("object.kind == 'Pod'", True))]
    assert reads["other"] == [(("variables.ok", False),)]


def test_a_condition_inside_a_comprehension_is_not_lifted() -> None:
    reads = _reads("object.spec.containers.map(c, c.name == 'a' ? variables.detail : '')")
    assert reads["detail"] == [()]


def test_a_global_call_condition_keeps_its_name() -> None:
    reads = _reads("size(variables.ok) > 0 ? variables.detail : ''")
    assert reads["detail"] == [(("size(variables.ok) > 0", True),)]


def test_reading_variables_other_than_by_name_makes_every_read_unconditional() -> None:
    reads = _reads("variables.ok ? variables[?'detail'].orValue('') : ''")
    assert all(paths == [()] for paths in reads.values())


def test_a_variables_guard_is_its_readers_guard_and_the_path() -> None:
    found = guards.guards(
        [{"ok": [()], "detail": [(("variables.ok", False),)]}],
        {"detail": {"sorted": [()]}, "sorted": {}, "ok": {}},
        ["ok", "sorted", "detail"],
    )
    assert found["ok"] == guards.ALWAYS
    assert found["detail"] == frozenset({(("variables.ok", False),)})
    assert found["sorted"] == found["detail"]


def test_an_unconditional_reader_makes_the_variable_unconditional() -> None:
    found = guards.guards([{"detail": [(("variables.ok", False),), ()]}], {}, ["detail"])
    assert found["detail"] == guards.ALWAYS


def test_too_many_alternatives_make_the_variable_unconditional() -> None:
    paths = [((f"c{i}", True),) for i in range(guards.MAX_DISJUNCTS + 1)]
    assert guards.guards([{"detail": paths}], {}, ["detail"])["detail"] == guards.ALWAYS


POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: guarded}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  variables:
  - {name: bad, expression: "object.spec.containers.filter(c, c.name.startsWith('bad'))"}
  - {name: ok, expression: "size(variables.bad) == 0"}
  # fails for any Pod without a 'bad' container: only the message of a denial reads it
  - {name: detail, expression: "variables.bad[0].name + ' is bad'"}
  validations:
  - expression: "variables.ok"
    messageExpression: "variables.ok ? '' : variables.detail"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: guarded}
spec: {policyName: guarded, validationActions: [Deny]}
"""


@pytest.mark.parametrize("container, allowed, message", [
    ("good", True, None),
    ("bad-one", False, "ValidatingAdmissionPolicy 'guarded' with binding 'guarded' denied request: bad-one is bad"),
])
def test_a_variable_only_a_denial_reads_does_not_stop_the_plan(tmp_path: Path, container: str, allowed: bool,
                                                                 message: str | None) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    policies = load_policy_set([str(tmp_path / "policy.yaml")])
    pod = Document("pod.yaml", 0, 1, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                                      "spec": {"containers": [{"name": container, "image": "i"}]}})
    [(_, attributes)] = attributes_for_documents([pod], DryRunRequest())
    before = validator.FastPaths.exact_runs
    decision = decide(policies, attributes, cluster_for([pod]))
    assert decision.allowed is allowed
    assert (decision.status.message if decision.status else None) == message
    assert validator.FastPaths.exact_runs == before  # the plan decided: ``detail`` was never evaluated eagerly
