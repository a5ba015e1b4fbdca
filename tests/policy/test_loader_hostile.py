"""Policy documents the fuzzers found crashing the loader: each is now a PolicyLoadError."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.documents import Document
from webhook.policy.errors import PolicyLoadError
from webhook.policy.loader import load_policy_documents

RULES = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]


def policy(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "p"}, "spec": {"matchConstraints": {"resourceRules": RULES},
                                                "validations": [{"expression": "true"}], **spec}}


def refusal(*objects: dict[str, Any]) -> str:
    with pytest.raises(PolicyLoadError) as raised:
        load_policy_documents([Document("in.yaml", i, 1, obj) for i, obj in enumerate(objects)])
    return str(raised.value)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({**policy(), "kind": []}, "not a ValidatingAdmissionPolicy or ValidatingAdmissionPolicyBinding"),
        (policy(paramKind={"apiVersion": "v1", "kind": ["ConfigMap"]}), "spec.paramKind.kind: Invalid value"),
        (policy(validations=[None]), "spec.validations[0]: Invalid value: null: must be an object"),
        (policy(variables=[None]), "spec.variables[0]: Invalid value: null: must be an object"),
        (policy(matchConstraints={"resourceRules": [None]}), "spec.matchConstraints.resourceRules[0]: Invalid value: null"),
        (policy(matchConstraints={"resourceRules": [{**RULES[0], "resources": [None]}]}),
         "resourceRules[0].resources[0]: Invalid value: null: must be a string"),
        (policy(variables=[{"name": "v"}], validations=[{"expression": "variables.v == ''"}]), "spec.variables[0].expression"),
    ],
    ids=["list-kind", "list-param-kind", "null-validation", "null-variable", "null-rule", "null-resource",
         "variable-without-expression"],
)
def test_a_hostile_policy_is_a_load_error_not_a_crash(obj: dict[str, Any], message: str) -> None:
    assert message in refusal(obj)
