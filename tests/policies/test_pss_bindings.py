"""The shape of policies/pod-security: one policy and binding per PSA mode, opted into by PSA's
namespace labels, generated from tools/pod-security/checks/.

These read the YAML as data; behaviour is checked in test_pss_gaps.py, test_pss_versions.py and
test_psa_conformance.py.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pss_admission import POD_SECURITY, REPO

BASELINE_CHECKS = {
    "appArmorProfile", "capabilities_baseline", "hostNamespaces", "hostPathVolumes", "hostPorts",
    "hostProbesAndHostLifecycle", "privileged", "procMount", "seLinuxOptions", "seccompProfile_baseline",
    "sysctls", "windowsHostProcess",
}
RESTRICTED_CHECKS = {
    "allowPrivilegeEscalation", "capabilities_restricted", "procMount_restricted", "restrictedVolumes",
    "runAsNonRoot", "runAsUser", "seccompProfile_restricted",
}
MODES = {"enforce": "Deny", "warn": "Warn", "audit": "Audit"}


def documents(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


FILES = {mode: documents(POD_SECURITY / f"{mode}.yaml") for mode in MODES}


def generator():
    loader = importlib.machinery.SourceFileLoader("pss_generate", str(REPO / "tools" / "pod-security" / "generate"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up while the class is built
    loader.exec_module(module)
    return module


def test_the_shipped_files_are_what_the_generator_writes():
    assert generator().main(["--check"]) == 0


def test_every_psa_check_has_a_check_file():
    ids = {p.stem for p in (REPO / "tools" / "pod-security" / "checks").glob("*.yaml")}
    assert ids == BASELINE_CHECKS | RESTRICTED_CHECKS


@pytest.mark.parametrize(("mode", "action"), MODES.items())
def test_each_mode_has_one_policy_and_one_binding(mode, action):
    policy, binding = FILES[mode]
    assert (policy["kind"], binding["kind"]) == ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    assert policy["metadata"]["name"] == binding["metadata"]["name"] == binding["spec"]["policyName"] == f"pss-{mode}"
    assert binding["spec"]["validationActions"] == [action]
    assert binding["spec"]["paramRef"] == {
        "name": "pod-security-exemptions", "namespace": "celgate-system",
        "parameterNotFoundAction": "Deny" if mode == "enforce" else "Allow",
    }


@pytest.mark.parametrize("mode", MODES)
def test_every_check_is_a_variable_listed_in_the_violations(mode):
    variables = {v["name"]: v["expression"] for v in FILES[mode][0]["spec"]["variables"]}
    for check in BASELINE_CHECKS | RESTRICTED_CHECKS:
        assert check in variables
        assert f"[variables.{check}]" in variables["violations"]


def test_the_modes_differ_only_in_labels_words_and_resources():
    enforce, warn = FILES["enforce"][0]["spec"], FILES["warn"][0]["spec"]
    assert enforce["matchConditions"] == warn["matchConditions"]
    assert len(enforce["variables"]) == len(warn["variables"])
    assert enforce["validations"][0]["messageExpression"].startswith("'violates PodSecurity")
    assert warn["validations"][0]["messageExpression"].startswith("'would violate PodSecurity")


def test_system_namespaces_are_never_selected():
    for policy, _ in FILES.values():
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


@pytest.mark.parametrize("mode", MODES)
def test_bindings_select_the_levels_psa_evaluates(mode):
    # api.PolicyToEvaluate: an invalid enforce level is restricted, an invalid warn or audit level privileged.
    expected = {"baseline", "restricted", "anything-else"} if mode == "enforce" else {"baseline", "restricted"}
    assert selected_levels(FILES[mode][1], mode) == expected


def test_only_pods_are_enforced_while_templates_are_warned_about_and_audited():
    for mode, (policy, binding) in FILES.items():
        resources = [r for rule in policy["spec"]["matchConstraints"]["resourceRules"] for r in rule["resources"]]
        assert "resourceRules" not in binding["spec"]["matchResources"]
        if mode == "enforce":
            assert resources == ["pods", "pods/ephemeralcontainers"]
        else:
            assert {"pods", "deployments", "cronjobs", "podtemplates"} <= set(resources)
