"""Random and mutated policies through the loader and compiler: they load, or PolicyLoadError
says why; a set that loads decides a Pod without an exception, within the deadline."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import mutations
from tests.fuzz.profile import fuzz_settings
from tests.fuzz.seeds import seeds
from tests.fuzz.targets import documents_target, policy_target

SEED_DOCUMENTS = [doc for seed in seeds("policy") for doc in documents_target(seed)]
POLICIES = [doc for doc in SEED_DOCUMENTS if doc.get("kind") == "ValidatingAdmissionPolicy"]

CEL_TOKENS = ["object", "oldObject", "params", "request", "namespaceObject", "variables.x", "authorizer", ".", "spec",
              "metadata", "containers", "name", "size()", "all(c, ", "exists(c, ", "map(c, ", "filter(c, ", "c", "c.image",
              "has(", ")", "(", "[", "]", "{", "}", ":", ",", " + ", " - ", " * ", " / ", " % ", " == ", " != ", " < ",
              " && ", " || ", "!", " ? ", " in ", "1", "-1", "9223372036854775807", "1u", "2.5", "'a'", "\"\\u00e9\"",
              "b'x'", "true", "false", "null", "int(", "string(", "double(", "duration('1s')", "timestamp('2024-01-01T00:00:00Z')",
              "quantity('1Gi')", "ip('10.0.0.1')", "cidr('10.0.0.0/8')", "url('https://x')", "'a'.matches('[a-z]+')",
              "'x'.split(',')", "lists.range(100)", "sets.contains([1], [1])", ".orValue(0)", "?.", "optional.of(1)",
              "type(1)", "dyn(", "size(object.spec.containers)", "object.metadata.?labels"]


def _policy_set_with(policy: dict[str, Any]) -> bytes:
    name = policy.get("metadata", {}).get("name", "fuzz") if isinstance(policy.get("metadata"), dict) else "fuzz"
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": "fuzz-binding"}, "spec": {"policyName": name, "validationActions": ["Deny"]}}
    return "\n".join(json.dumps(doc) for doc in (policy, binding)).encode()


@fuzz_settings(150)
@given(st.data())
def test_mutated_policies_load_or_are_refused_and_never_break_a_decision(data: st.DataObject) -> None:
    policy = data.draw(st.sampled_from(POLICIES), label="policy")
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(list(mutations.paths(policy))[1:]), label="path")
        if data.draw(st.booleans(), label="delete"):
            policy = mutations.deleted(policy, path)
        else:
            policy = mutations.replaced(policy, path, data.draw(mutations.json_values, label="value"))
    policy_target(_policy_set_with(policy))


@fuzz_settings(200)
@given(st.lists(st.sampled_from(CEL_TOKENS), min_size=1, max_size=12).map("".join),
       st.sampled_from(["expression", "messageExpression", "matchCondition", "variable", "auditAnnotation"]))
def test_random_expressions_compile_or_are_refused_and_never_break_a_decision(expression: str, where: str) -> None:
    spec: dict[str, Any] = {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                                "resources": ["pods"]}]},
        "validations": [{"expression": expression if where == "expression" else "true"}],
    }
    if where == "messageExpression":
        spec["validations"] = [{"expression": "false", "messageExpression": expression}]
    elif where == "matchCondition":
        spec["matchConditions"] = [{"name": "fuzz", "expression": expression}]
    elif where == "variable":
        spec["variables"] = [{"name": "x", "expression": expression}]
        spec["validations"] = [{"expression": "variables.x == variables.x"}]
    elif where == "auditAnnotation":
        spec["auditAnnotations"] = [{"key": "fuzz", "valueExpression": expression}]
    policy_target(_policy_set_with({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                                    "metadata": {"name": "fuzz"}, "spec": spec}))
