"""webhook/cluster_policies.py: polyfill objects compiled one by one, merged with the files, the
last good generation kept, and the status celgate writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from webhook.cluster_policies import ClusterPolicies, policy_status, status_differs
from webhook.policy.loader import POLYFILL_API_VERSION, load_policy_set

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "policies" / "disallow-privileged-containers.yaml"
NOW = "2026-01-01T00:00:00Z"


def polyfill(generation: int = 1, name: str = "cluster-privileged") -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d]
    for document in documents:
        document["apiVersion"] = POLYFILL_API_VERSION
        document["metadata"] = {"name": name, "generation": generation}
        if document["kind"] == "ValidatingAdmissionPolicyBinding":
            document["spec"]["policyName"] = name
    return documents


def broken(documents: list[dict[str, Any]], generation: int) -> list[dict[str, Any]]:
    documents = copy.deepcopy(documents)
    documents[0]["metadata"]["generation"] = generation
    documents[0]["spec"]["validations"][0]["expression"] = "nosuch == 1"
    return documents


class Objects:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = documents

    def __call__(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]


BASE = load_policy_set([REPO / "examples" / "policies" / "require-team-label.yaml"])


def test_a_valid_polyfill_policy_and_binding_join_the_file_set():
    objects = Objects(polyfill())
    cluster = ClusterPolicies(objects)
    assert cluster.refresh(BASE)
    merged = cluster.policy_set(BASE)
    assert "cluster-privileged" in merged.policies and "cluster-privileged" in merged.bindings
    assert set(BASE.policies) <= set(merged.policies)
    result = cluster.results[("ValidatingAdmissionPolicy", "cluster-privileged")]
    assert result.in_force
    status = policy_status(result, None, NOW)
    assert status["observedGeneration"] == 1
    assert status["conditions"][0]["status"] == "True" and status["conditions"][0]["reason"] == "Enforced"


def test_a_broken_generation_keeps_the_last_good_one_serving_and_says_why_with_the_field_path():
    good = polyfill()
    objects = Objects(good)
    cluster = ClusterPolicies(objects)
    cluster.refresh(BASE)
    serving = cluster.policy_set(BASE).policies["cluster-privileged"]
    objects.documents = broken(good, 2)
    assert cluster.refresh(BASE)
    assert cluster.policy_set(BASE).policies["cluster-privileged"] is serving
    result = cluster.results[("ValidatingAdmissionPolicy", "cluster-privileged")]
    assert not result.in_force and result.serving_generation == 1
    condition = policy_status(result, None, NOW)["conditions"][0]
    assert condition["status"] == "False" and condition["reason"] == "Invalid"
    assert "generation 1 keeps serving" in condition["message"]
    assert "spec.validations[0].expression" in condition["message"] and "nosuch" in condition["message"]


def test_a_new_broken_policy_is_not_enforced_and_does_not_disturb_the_others():
    objects = Objects(broken(polyfill(), 1) + polyfill(name="other"))
    cluster = ClusterPolicies(objects)
    cluster.refresh(BASE)
    merged = cluster.policy_set(BASE)
    assert "cluster-privileged" not in merged.policies and "other" in merged.policies
    message = policy_status(cluster.results[("ValidatingAdmissionPolicy", "cluster-privileged")], None, NOW)
    assert "nothing from this object is enforced" in message["conditions"][0]["message"]


def test_a_cluster_object_named_like_a_file_policy_is_never_enforced_twice():
    (name,) = BASE.policies
    objects = Objects(polyfill(name=name))
    cluster = ClusterPolicies(objects)
    cluster.refresh(BASE)
    merged = cluster.policy_set(BASE)
    assert merged.policies[name] is BASE.policies[name]
    condition = policy_status(cluster.results[("ValidatingAdmissionPolicy", name)], None, NOW)["conditions"][0]
    assert condition["reason"] == "NameConflict"


def test_a_deleted_object_leaves_the_set_and_an_unchanged_status_is_not_rewritten():
    objects = Objects(polyfill())
    cluster = ClusterPolicies(objects)
    cluster.refresh(BASE)
    result = cluster.results[("ValidatingAdmissionPolicy", "cluster-privileged")]
    written = policy_status(result, None, NOW)
    assert not status_differs(written, policy_status(result, written, "2030-01-01T00:00:00Z"))
    assert not cluster.refresh(BASE)  # nothing changed
    objects.documents = []
    assert cluster.refresh(BASE)
    assert "cluster-privileged" not in cluster.policy_set(BASE).policies
