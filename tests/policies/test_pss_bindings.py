"""The shape of policies/pod-security: one policy per PSA check, opted into by PSA's namespace labels.

These read the YAML as data; behaviour is checked in test_pss_gaps.py and test_psa_conformance.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pss_admission import POD_SECURITY

BASELINE_CHECKS = {
    "appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes", "hostPorts",
    "hostProbesAndHostLifecycle", "privileged", "procMount", "seLinuxOptions", "seccompProfile_baseline",
    "sysctls", "windowsHostProcess",
}
RESTRICTED_CHECKS = {
    "allowPrivilegeEscalation", "capabilities_restricted", "procMount_restricted", "restrictedVolumes",
    "runAsNonRoot", "runAsUser", "seccompProfile_restricted",
}
# Baseline checks a restricted check replaces (OverrideCheckIDs in PSA's registry, v1.35).
OVERRIDDEN_UNDER_RESTRICTED = {"capabilities_baseline", "hostPathVolumes", "seccompProfile_baseline", "procMount"}
SHARED_VARIABLES = ("podSpec", "allContainers")


def documents(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


POLICIES = {
    doc["metadata"]["labels"]["pod-security.celgate.io/check"]: doc
    for level in ("baseline", "restricted")
    for path in sorted((POD_SECURITY / level).glob("*.yaml"))
    for doc in documents(path)
}
BINDINGS = [doc for path in sorted((POD_SECURITY / "bindings").glob("*.yaml")) for doc in documents(path)]


def test_there_is_one_policy_per_psa_check():
    assert set(POLICIES) == BASELINE_CHECKS | RESTRICTED_CHECKS
    for check, policy in POLICIES.items():
        assert policy["kind"] == "ValidatingAdmissionPolicy"
        assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
        level = "baseline" if check in BASELINE_CHECKS else "restricted"
        assert policy["metadata"]["labels"]["pod-security.celgate.io/level"] == level


def test_every_policy_shares_the_same_matching_and_pod_extraction():
    first = next(iter(POLICIES.values()))["spec"]
    for check, policy in POLICIES.items():
        spec = policy["spec"]
        assert spec["matchConstraints"] == first["matchConstraints"], check
        assert spec["matchConditions"] == first["matchConditions"], check
        assert spec["variables"][: len(SHARED_VARIABLES)] == first["variables"][: len(SHARED_VARIABLES)], check
        assert "paramKind" not in spec, check


def test_system_namespaces_are_never_selected():
    for policy in POLICIES.values():
        assert {
            "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "celgate-system"],
        } in policy["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"]


def selected_levels(binding: dict[str, Any], mode: str) -> set[str]:
    """The values of the mode's level label this binding's namespaceSelector accepts."""
    key = f"pod-security.kubernetes.io/{mode}"
    accepted = {"privileged", "baseline", "restricted", "anything-else"}
    for expression in binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]:
        assert expression["key"] == key
        if expression["operator"] == "In":
            accepted &= set(expression["values"])
        elif expression["operator"] == "NotIn":
            accepted -= set(expression["values"])
        else:
            assert expression["operator"] == "Exists"
    return accepted


@pytest.mark.parametrize(("mode", "action"), [("enforce", "Deny"), ("warn", "Warn"), ("audit", "Audit")])
def test_each_check_has_one_binding_per_mode_selecting_psa_levels(mode, action):
    bindings = {b["spec"]["policyName"]: b for b in BINDINGS if b["metadata"]["name"].endswith(f"-{mode}")}
    assert len(bindings) == len(POLICIES)
    for check, policy in POLICIES.items():
        binding = bindings[policy["metadata"]["name"]]
        assert binding["spec"]["validationActions"] == [action]
        if check in OVERRIDDEN_UNDER_RESTRICTED:
            expected = {"baseline"}
        elif check in BASELINE_CHECKS:
            expected = {"baseline", "restricted", "anything-else"}  # PSA reads an invalid level as restricted
        else:
            expected = {"restricted", "anything-else"}
        assert selected_levels(binding, mode) == expected, check


def test_only_pods_are_enforced_while_templates_are_warned_about_and_audited():
    for binding in BINDINGS:
        rules = binding["spec"]["matchResources"].get("resourceRules")
        if binding["spec"]["validationActions"] == ["Deny"]:
            assert [r["resources"] for r in rules] == [["pods", "pods/ephemeralcontainers"]]
        else:
            assert rules is None  # every resource the policy matches
