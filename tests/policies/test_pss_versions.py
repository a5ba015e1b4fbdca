"""PSA's version labels, its whole-level message and its exemptions, in the shipped policies.

Expected wording is PSA's: admission.go EvaluatePod ("violates PodSecurity %q: %s", with
api.LevelVersion.String()), api/helpers.go ParseVersion, policy/registry.go (check order,
versions after the newest evaluated as the newest), and the exemptions of
PodSecurityConfiguration. The corpus covers each version's verdicts (tools/psa-conformance
--version all); these cover what it does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pss_admission import POD_SECURITY, admit, manifest, messages_of, violations

from webhook.policy.loader import load_policy_set

ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
PRIVILEGED = 'privileged (container "app" must not set securityContext.privileged=true)'


def exemptions(**lists: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "pod-security-exemptions", "namespace": "celgate-system"},
        "data": lists,
    }


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "printed"),
    [
        ("v1.24", "v1.24"),
        ("latest", "latest"),
        ("v1.99", "v1.99"),  # newer than PSA's newest: printed as given, evaluated as v1.35
        ("v1.024", "latest"),  # ParseVersion's pattern has no leading zeros
        ("1.24", "latest"),
        ("v2.0", "latest"),
        ("v1.9223372036854775807", "v1.9223372036854775807"),
        ("v1.9223372036854775808", "latest"),  # strconv.Atoi overflows
    ],
)
def test_the_message_names_the_version_as_psa_prints_it(pss_policies, label, printed):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), {ENFORCE: "baseline", ENFORCE_VERSION: label})

    assert messages_of(decision) == [f'violates PodSecurity "baseline:{printed}": {PRIVILEGED}']


@pytest.mark.parametrize(("version", "allowed"), [("v1.24", False), ("v1.25", True), ("v1.40", True)])
def test_windows_pods_are_exempt_from_linux_only_checks_from_v1_25(pss_policies, version, allowed):
    decision = admit(pss_policies, manifest("windows-pod.yaml"), {ENFORCE: "restricted", ENFORCE_VERSION: version})

    assert decision.allowed is allowed


def test_user_namespaces_relax_run_as_user_only_from_v1_35(pss_policies):
    pod = manifest("user-namespace-pod.yaml")

    at_34 = admit(pss_policies, pod, {ENFORCE: "restricted", ENFORCE_VERSION: "v1.34"})
    at_35 = admit(pss_policies, pod, {ENFORCE: "restricted", ENFORCE_VERSION: "v1.35"})

    assert [v.partition(" (")[0] for v in violations(at_34)] == ["procMount", "runAsNonRoot != true", "runAsUser=0"]
    assert [v.partition(" (")[0] for v in violations(at_35)] == ["procMount"]


def test_before_v1_22_restricted_lists_the_baseline_capabilities_check_among_the_baseline_checks(pss_policies):
    pod = manifest("capabilities-pod.yaml")

    at_21 = violations(admit(pss_policies, pod, {ENFORCE: "restricted", ENFORCE_VERSION: "v1.21"}))
    at_22 = violations(admit(pss_policies, pod, {ENFORCE: "restricted", ENFORCE_VERSION: "v1.22"}))

    assert at_21[0].startswith("non-default capabilities (")
    assert not any(v.startswith("unrestricted capabilities") for v in at_21)
    assert any(v.startswith("unrestricted capabilities") for v in at_22)
    assert not any(v.startswith("non-default capabilities") for v in at_22)


def test_sysctls_allowed_at_later_versions_are_forbidden_before(pss_policies):
    pod = manifest("baseline-pod.yaml")
    pod["spec"]["securityContext"] = {"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]}

    assert not admit(pss_policies, pod, {ENFORCE: "baseline", ENFORCE_VERSION: "v1.28"}).allowed
    assert admit(pss_policies, pod, {ENFORCE: "baseline", ENFORCE_VERSION: "v1.29"}).allowed


def test_each_mode_reads_its_own_version_label(pss_policies):
    labels = {ENFORCE: "restricted", ENFORCE_VERSION: "v1.25",
              "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "v1.24"}

    decision = admit(pss_policies, manifest("windows-pod.yaml"), labels)

    assert decision.allowed
    assert decision.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'pss-warn' with binding 'pss-warn': "
        'would violate PodSecurity "restricted:v1.24": '
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")',
    )


# --- one message per level, checks in PSA's order ---------------------------------------------


def test_restricted_lists_baseline_checks_first_then_restricted_ones(pss_policies):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), {ENFORCE: "restricted"})

    reasons = [v.partition(" (")[0] for v in violations(decision)]
    assert reasons[0] == "privileged"
    assert reasons[1:] == [
        "allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile",
    ]
    assert len(decision.evaluations) == 3 and len(messages_of(decision)) == 1


def test_a_pod_violating_no_check_is_admitted_silently(pss_policies):
    labels = {ENFORCE: "restricted", "pod-security.kubernetes.io/warn": "restricted"}

    decision = admit(pss_policies, manifest("restricted-pod.yaml"), labels)

    assert decision.allowed and decision.warnings == ()


# --- exemptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lists", "username", "namespace"),
    [
        ({"usernames": "alice, system:serviceaccount:ci:deployer"}, "system:serviceaccount:ci:deployer", "team-a"),
        ({"namespaces": "sandbox\nteam-a\n"}, "bob", "team-a"),
    ],
)
def test_exempt_users_and_namespaces_are_admitted_unevaluated(pss_policies, lists, username, namespace):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), {ENFORCE: "restricted", "pod-security.kubernetes.io/warn": "restricted"},
                     namespace=namespace, username=username, params=[exemptions(**lists)])

    assert decision.allowed and decision.warnings == ()


def test_exempt_runtime_class_is_admitted_and_others_are_not(pss_policies):
    pod = manifest("privileged-pod.yaml")
    params = [exemptions(runtimeClasses="kata,gvisor")]

    pod["spec"]["runtimeClassName"] = "gvisor"
    assert admit(pss_policies, pod, {ENFORCE: "baseline"}, params=params).allowed
    pod["spec"]["runtimeClassName"] = "runc"
    assert not admit(pss_policies, pod, {ENFORCE: "baseline"}, params=params).allowed


def test_the_shipped_exemptions_exempt_nobody(pss_policies):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), {ENFORCE: "baseline"}, username="alice")

    assert not decision.allowed


def test_without_the_exemptions_configmap_enforce_fails_closed_and_warn_open():
    policies = load_policy_set([str(POD_SECURITY / f"{mode}.yaml") for mode in ("enforce", "warn", "audit")])
    labels = {ENFORCE: "baseline", "pod-security.kubernetes.io/warn": "baseline"}

    decision = admit(policies, manifest("baseline-pod.yaml"), labels)

    assert not decision.allowed
    assert decision.status is not None and decision.status.message == (
        "ValidatingAdmissionPolicy 'pss-enforce' with binding 'pss-enforce' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"
    )
    assert decision.warnings == ()


def test_exemptions_configmap_is_loaded_with_the_policies(pss_policies):
    assert [(p["kind"], p["metadata"]["name"]) for p in pss_policies.params] == [("ConfigMap", "pod-security-exemptions")]
    assert Path(POD_SECURITY / "exemptions.yaml").is_file()


# --- size ---------------------------------------------------------------------------------------


def test_a_pod_adding_many_capabilities_in_many_containers_is_evaluated(pss_policies):
    # The plan's cost bound cannot prove this one (the ranking of 200 values is bounded over
    # 1,000,000 although restricted never reads it): exact.py decides it, lazily and exactly,
    # as kube-apiserver v1.35 does (it warns as PSA does).
    def container(name: str) -> dict:
        return {"name": name, "image": "x", "securityContext": {"capabilities": {"add": [f"CAP{i}" for i in range(5)]}}}

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "many"},
           "spec": {"containers": [container(f"c{i}") for i in range(20)],
                    "initContainers": [container(f"i{i}") for i in range(20)]}}

    decision = admit(pss_policies, pod, {ENFORCE: "restricted"})

    assert [e.result for e in decision.evaluations if e.policy == "pss-enforce"] == ["deny"]
    assert messages_of(decision)[0].startswith('violates PodSecurity "restricted:latest": allowPrivilegeEscalation')
