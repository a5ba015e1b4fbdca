"""Values crossing from cel-expr-python into Python: None keeps its references.

cel-expr-python 0.1.3 hands out None for a CEL null without taking a reference; on Python 3.11
each such None dropped costs None one reference until the interpreter aborts
("none_dealloc"). webhook/cel/values.py gives the references back; these tests fail (and,
run long enough, crash) without it.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from webhook.cel.values import Survey, plain, survey
from webhook.policy.compiler import environment

ROUNDS = 500


def _none_references_lost(action) -> int:
    action()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(ROUNDS):
        action()
    gc.collect()
    return before - sys.getrefcount(None)


@pytest.mark.parametrize("expression", [
    "null",
    "[null, 1, null]",
    "{'a': null, 'b': [null, {'c': null}]}",
    "dyn(object).spec",  # a null that came in from Python
    "[dyn(object).spec, dyn(object).items]",
])
def test_nulls_returned_to_python_keep_none_alive(expression: str) -> None:
    env = environment(False)
    program = env.compile(expression, internal=True)
    activation = env.activation({"object": {"spec": None, "items": [None, None]}})
    assert _none_references_lost(lambda: plain(program.run(activation))) < ROUNDS // 10  # the defect loses one or more per round
    assert _none_references_lost(lambda: program.evaluate(activation)) < ROUNDS // 10  # the defect loses one or more per round


def test_a_policy_auditing_null_on_every_request_does_not_drain_none(tmp_path: Path) -> None:
    from webhook.admission.dry_run import DryRunRequest, attributes_for_documents, cluster_for
    from webhook.documents import Document
    from webhook.policy.dispatcher import decide
    from webhook.policy.loader import load_policy_set

    (tmp_path / "policy.yaml").write_text("""\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: audits-null}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  variables:
  - {name: nothing, expression: "object.metadata.?missing.orValue(null)"}
  validations:
  - expression: "variables.nothing == null"
  auditAnnotations:
  - {key: never, valueExpression: "null"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: audits-null}
spec: {policyName: audits-null, validationActions: [Deny]}
""")
    policies = load_policy_set([str(tmp_path / "policy.yaml")])
    pod = Document("pod.yaml", 0, 1, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                                      "spec": {"containers": [{"name": "c", "image": "i"}]}})
    cluster = cluster_for([pod])
    [(_, attributes)] = attributes_for_documents([pod], DryRunRequest())
    assert decide(policies, attributes, cluster).allowed
    assert _none_references_lost(lambda: decide(policies, attributes, cluster)) < ROUNDS // 10  # the defect loses one or more per round


def test_survey_gives_the_size_classes_and_whether_data_can_go_as_is() -> None:
    assert survey({"name": "abc", "items": [1, 2, 3, 4]}) == Survey(largest=5, collection=4, as_is=True)  # the key 'items'
    assert survey({"k" * 9: [["x" * 7]]}) == Survey(largest=9, collection=1, as_is=True)
    assert survey([{"big": 2**63}]).as_is is False  # beyond int64: to_cel makes it a double
    assert survey([(1, 2, 3)]) == Survey(largest=3, collection=3, as_is=False)
    assert survey([]) == Survey(largest=1, collection=1, as_is=True)
