"""An expression whose composition with its variables nests deeper than cel-cpp's parser allows
still loads and is evaluated with the variables' computed values."""

from __future__ import annotations

from pathlib import Path

from webhook.policy.attributes import AdmissionAttributes, GroupVersionKind, GroupVersionResource
from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.dispatcher import decide
from webhook.policy.loader import load_policy_set

DEPTH = 35  # each variable adds a cel.bind level: more than cel-cpp's parser depth of 32


def _policy(tmp_path: Path) -> Path:
    variables = "\n".join(
        f"    - name: v{i}\n      expression: \"{'variables.v' + str(i - 1) + ' + 1' if i else 'size(object.data)'}\""
        for i in range(DEPTH)
    )
    text = f"""apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: deep}}
spec:
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}
  variables:
{variables}
  validations:
    - expression: "variables.v{DEPTH - 1} < {DEPTH + 1}"
      messageExpression: "'too much data: ' + string(variables.v{DEPTH - 1})"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: deep}}
spec: {{policyName: deep, validationActions: [Deny]}}
"""
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    return path


def _configmap(entries: int) -> AdmissionAttributes:
    return AdmissionAttributes(
        uid="u", kind=GroupVersionKind("", "v1", "ConfigMap"), resource=GroupVersionResource("", "v1", "configmaps"),
        operation="CREATE", name="cm", namespace="default",
        object={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
                "data": {f"k{i}": "" for i in range(entries)}},
    )


def test_a_deeply_composed_expression_still_decides(tmp_path: Path) -> None:
    policy_set = load_policy_set([_policy(tmp_path)])
    assert policy_set.policies["deep"].validations[0].program is None  # the composition did not compile
    cluster = StaticClusterData(namespaces=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}])
    assert decide(policy_set, _configmap(1), cluster).allowed
    denied = decide(policy_set, _configmap(2), cluster)
    assert not denied.allowed
    assert denied.status.message == (
        f"ValidatingAdmissionPolicy 'deep' with binding 'deep' denied request: too much data: {DEPTH + 1}"
    )
