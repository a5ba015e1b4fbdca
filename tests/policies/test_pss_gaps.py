"""Pod Security behaviour the PSA fixture corpus does not cover (its README, "Coverage gaps").

Each case admits a manifest from tests/policies/fixtures through the real evaluation path and
checks the verdict and PSA's wording. The expected texts are PSA's (check_*.go in
staging/src/k8s.io/pod-security-admission/policy, admission.go for the "violates PodSecurity"
sentence); the prefix is kube-apiserver's VAP wording.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pss_admission import admit, manifest, messages_of, violations

ENFORCE_BASELINE = {"pod-security.kubernetes.io/enforce": "baseline"}
ENFORCE_RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
PRIVILEGED_DETAIL = 'privileged (container "app" must not set securityContext.privileged=true)'


def with_security_context(pod: dict[str, Any], pod_level: dict | None = None, **containers: dict) -> dict[str, Any]:
    """A copy of ``pod`` with securityContext fields merged in, for the pod and named containers."""
    pod = copy.deepcopy(pod)
    if pod_level:
        pod["spec"].setdefault("securityContext", {}).update(pod_level)
    for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
        if container["name"] in containers:
            container.setdefault("securityContext", {}).update(containers[container["name"]])
    return pod


# --- the headline behaviour: Pods are enforced, templates only warned about -----------------


def test_privileged_pod_is_denied_in_enforce_baseline_namespace_naming_the_container(pss_policies):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), ENFORCE_BASELINE)

    assert not decision.allowed
    assert decision.status is not None and decision.status.code == 403
    assert decision.status.message == (
        "ValidatingAdmissionPolicy 'pss-enforce' with binding 'pss-enforce' "
        f'denied request: violates PodSecurity "baseline:latest": {PRIVILEGED_DETAIL}'
    )


def test_privileged_deployment_template_gets_a_warning_not_a_denial(pss_policies):
    labels = {**ENFORCE_BASELINE, "pod-security.kubernetes.io/warn": "baseline"}

    decision = admit(pss_policies, manifest("privileged-deployment.yaml"), labels)

    assert decision.allowed
    assert decision.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'pss-warn' with binding 'pss-warn': "
        f'would violate PodSecurity "baseline:latest": {PRIVILEGED_DETAIL}',
    )


def workload(api_version: str, kind: str, template_path: tuple[str, ...]) -> dict[str, Any]:
    """A workload whose pod template (at ``template_path``) is privileged-pod.yaml's Pod."""
    pod = manifest("privileged-pod.yaml")
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}}
    node = obj
    for key in template_path[:-1]:
        node = node.setdefault(key, {})
    node[template_path[-1]] = {"metadata": {"labels": {"app": "w"}}, "spec": pod["spec"]}
    return obj


@pytest.mark.parametrize(
    ("api_version", "kind", "template_path"),
    [
        ("apps/v1", "ReplicaSet", ("spec", "template")),
        ("apps/v1", "StatefulSet", ("spec", "template")),
        ("apps/v1", "DaemonSet", ("spec", "template")),
        ("batch/v1", "Job", ("spec", "template")),
        ("batch/v1", "CronJob", ("spec", "jobTemplate", "spec", "template")),
        ("v1", "ReplicationController", ("spec", "template")),
        ("v1", "PodTemplate", ("template",)),
    ],
)
def test_every_workload_kind_psa_knows_is_warned_about(pss_policies, api_version, kind, template_path):
    labels = {**ENFORCE_BASELINE, "pod-security.kubernetes.io/warn": "baseline"}

    decision = admit(pss_policies, workload(api_version, kind, template_path), labels)

    assert decision.allowed
    assert [w for w in decision.warnings if PRIVILEGED_DETAIL in w] != []


def test_replication_controller_without_a_template_is_admitted_silently(pss_policies):
    controller = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "empty"}, "spec": {"replicas": 0}}

    decision = admit(pss_policies, controller, {"pod-security.kubernetes.io/warn": "restricted"})

    assert decision.allowed
    assert decision.warnings == ()
    assert [e for e in decision.evaluations if e.result == "error"] == []


def test_workload_template_is_never_enforced(pss_policies):
    decision = admit(pss_policies, manifest("privileged-deployment.yaml"), ENFORCE_RESTRICTED)

    assert decision.allowed
    assert decision.warnings == ()


def test_cronjob_template_under_job_template_is_checked(pss_policies):
    decision = admit(pss_policies, manifest("privileged-cronjob.yaml"), {"pod-security.kubernetes.io/warn": "baseline"})

    assert decision.allowed
    assert any('privileged (container "job" must not set' in w for w in decision.warnings)


def test_audit_label_annotates_instead_of_denying(pss_policies):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), {"pod-security.kubernetes.io/audit": "baseline"})

    assert decision.allowed
    assert decision.warnings == ()
    failures = json.loads(decision.audit_annotations["validation.policy.admission.k8s.io/validation_failure"])
    assert [(f["policy"], f["message"]) for f in failures] == [
        ("pss-audit", f'would violate PodSecurity "baseline:latest": {PRIVILEGED_DETAIL}')
    ]


def test_warn_label_warns_about_pods_too(pss_policies):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), {"pod-security.kubernetes.io/warn": "restricted"})

    assert decision.allowed
    assert any(PRIVILEGED_DETAIL in w for w in decision.warnings)


# --- which namespaces opt in ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "labels"),
    [
        ("team-a", {}),
        ("team-a", {"pod-security.kubernetes.io/enforce": "privileged"}),
        ("kube-system", ENFORCE_RESTRICTED),
        ("celgate-system", ENFORCE_RESTRICTED),
    ],
)
def test_privileged_and_exempt_namespaces_admit_anything(pss_policies, namespace, labels):
    decision = admit(pss_policies, manifest("privileged-pod.yaml"), labels, namespace=namespace)

    assert decision.allowed
    assert decision.warnings == ()


def test_unparseable_level_label_enforces_restricted_as_psa_does(pss_policies):
    # PSA's ParseLevel falls back to restricted on an invalid level (pod-security-admission/api/helpers.go).
    decision = admit(pss_policies, manifest("baseline-pod.yaml"), {"pod-security.kubernetes.io/enforce": "strict"})

    assert not decision.allowed
    assert messages_of(decision)[0].startswith('violates PodSecurity "restricted:latest": ')
    assert any(v.startswith("runAsNonRoot != true") for v in violations(decision))


def test_restricted_checks_replace_the_baseline_checks_they_override(pss_policies):
    decision = admit(pss_policies, manifest("capabilities-pod.yaml"), ENFORCE_RESTRICTED)

    reasons = [v.partition(" (")[0] for v in violations(decision)]
    assert "unrestricted capabilities" in reasons
    assert "non-default capabilities" not in reasons


def test_multiple_values_are_reported_sorted_and_once_as_psa_sets_do(pss_policies):
    decision = admit(pss_policies, manifest("capabilities-pod.yaml"), ENFORCE_BASELINE)

    assert violations(decision) == [
        'non-default capabilities (containers "init", "app", "sidecar" must not include '
        '"NET_RAW", "SYS_ADMIN", "SYS_TIME" in securityContext.capabilities.add)'
    ]



def test_values_beyond_the_first_32_follow_them_as_they_come(pss_policies):
    # sort() and distinct() cost the square of their list's length: they sort the first 32 values
    pod = manifest("baseline-pod.yaml")
    pod["spec"]["containers"] = [
        {"name": f"c{i}", "image": "registry.k8s.io/pause",
         "securityContext": {"capabilities": {"add": [f"CAP_{39 - i:02d}"]}}}
        for i in range(40)
    ]

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    names = ", ".join(f'"c{i}"' for i in range(40))
    values = [f'"CAP_{n:02d}"' for n in range(8, 40)] + [f'"CAP_{n:02d}"' for n in range(7, -1, -1)]
    assert violations(decision) == [
        f"non-default capabilities (containers {names} must not include {', '.join(values)} "
        "in securityContext.capabilities.add)"
    ]

# --- appArmorProfile fields (the fixtures only use the annotations) -------------------------


@pytest.mark.parametrize(
    ("pod_level", "app", "annotations", "expected"),
    [
        ({"appArmorProfile": {"type": "RuntimeDefault"}}, {}, {}, None),
        ({}, {"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-nginx"}}, {}, None),
        ({"appArmorProfile": {"type": "Unconfined"}}, {}, {},
         'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")'),
        ({}, {"appArmorProfile": {"type": "Unconfined"}}, {},
         'forbidden AppArmor profile (container "app" must not set AppArmor profile type to "Unconfined")'),
        ({"appArmorProfile": {"type": "Unconfined"}}, {"appArmorProfile": {"type": "Unconfined"}},
         {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"},
         'forbidden AppArmor profiles (pod and container "app" and annotation must not set AppArmor profile type '
         'to "Unconfined", "container.apparmor.security.beta.kubernetes.io/app="unconfined"")'),
        ({}, {}, {"container.apparmor.security.beta.kubernetes.io/app": "localhost/k8s-nginx"}, None),
    ],
    ids=["pod-runtime-default", "container-localhost", "pod-unconfined", "container-unconfined",
         "fields-and-annotation", "annotation-localhost"],
)
def test_app_armor_profile_fields(pss_policies, pod_level, app, annotations, expected):
    pod = with_security_context(manifest("baseline-pod.yaml"), pod_level, app=app)
    pod["metadata"]["annotations"] = annotations

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    assert violations(decision) == ([expected] if expected else [])


# --- ephemeral containers ---------------------------------------------------------------------

DEBUGGER = {"name": "debugger", "image": "busybox", "targetContainerName": "app",
            "securityContext": {"privileged": True}}
DEBUGGER_DETAIL = 'privileged (container "debugger" must not set securityContext.privileged=true)'


def test_privileged_ephemeral_container_is_denied(pss_policies):
    pod = manifest("baseline-pod.yaml")
    pod["spec"]["ephemeralContainers"] = [DEBUGGER]

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    assert violations(decision) == [DEBUGGER_DETAIL]


def test_adding_a_privileged_ephemeral_container_through_the_subresource_is_denied(pss_policies):
    old = manifest("baseline-pod.yaml")
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [DEBUGGER]

    decision = admit(pss_policies, new, ENFORCE_BASELINE, operation="UPDATE", old=old, sub_resource="ephemeralcontainers")

    assert not decision.allowed
    assert violations(decision) == [DEBUGGER_DETAIL]


# --- UPDATE: PSA evaluates a Pod update only if a container image changes ----------------------


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        (lambda pod: pod["metadata"].update(labels={"tier": "web"}), True),
        (lambda pod: pod["spec"]["containers"][0].update(image="registry.k8s.io/pause:3.10"), False),
        (lambda pod: pod["spec"]["containers"].append({"name": "extra", "image": "busybox"}), False),
    ],
    ids=["metadata-only", "image-changed", "container-added"],
)
def test_pod_update_is_evaluated_only_when_an_image_changes(pss_policies, change, allowed):
    old = manifest("privileged-pod.yaml")
    new = copy.deepcopy(old)
    change(new)

    decision = admit(pss_policies, new, ENFORCE_BASELINE, operation="UPDATE", old=old)

    assert decision.allowed is allowed


def test_workload_update_is_always_evaluated(pss_policies):
    old = manifest("privileged-deployment.yaml")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3

    decision = admit(pss_policies, new, {"pod-security.kubernetes.io/warn": "baseline"}, operation="UPDATE", old=old)

    assert decision.allowed
    assert any(PRIVILEGED_DETAIL in w for w in decision.warnings)


# --- SELinux types and sysctls ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"type": "container_engine_t"}, None),  # allowed from policy v1.31
        ({"type": "container_kvm_t", "level": "s0:c123,c456"}, None),
        ({"type": "spc_t"}, 'seLinuxOptions (container "app" set forbidden securityContext.seLinuxOptions: type "spc_t")'),
        ({"type": "spc_t", "user": "system_u", "role": "system_r"},
         'seLinuxOptions (container "app" set forbidden securityContext.seLinuxOptions: '
         'type "spc_t"; user may not be set; role may not be set)'),
    ],
)
def test_selinux_types(pss_policies, options, expected):
    pod = with_security_context(manifest("baseline-pod.yaml"), app={"seLinuxOptions": options})

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    assert violations(decision) == ([expected] if expected else [])


ALLOWED_SYSCTLS = [
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",  # v1.27
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",  # v1.29
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",  # v1.32
]


@pytest.mark.parametrize("name", ALLOWED_SYSCTLS)
def test_allow_listed_sysctls_are_admitted(pss_policies, name):
    pod = with_security_context(manifest("baseline-pod.yaml"), {"sysctls": [{"name": name, "value": "1"}]})

    assert admit(pss_policies, pod, ENFORCE_BASELINE).allowed


def test_other_sysctls_are_listed_in_order(pss_policies):
    # tcp_slow_start_after_idle joins the list only in the unreleased v1.37 policy.
    sysctls = [{"name": n, "value": "1"} for n in ("kernel.msgmax", "net.ipv4.tcp_rmem", "net.ipv4.tcp_slow_start_after_idle")]
    pod = with_security_context(manifest("baseline-pod.yaml"), {"sysctls": sysctls})

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    assert violations(decision) == ["forbidden sysctls (kernel.msgmax, net.ipv4.tcp_slow_start_after_idle)"]


# --- Windows Pods and user namespaces ------------------------------------------------------


def test_windows_pod_is_exempt_from_linux_only_restricted_checks(pss_policies):
    assert admit(pss_policies, manifest("windows-pod.yaml"), ENFORCE_RESTRICTED).allowed


def test_the_same_pod_without_os_windows_is_denied(pss_policies):
    pod = manifest("windows-pod.yaml")
    del pod["spec"]["os"]

    decision = admit(pss_policies, pod, ENFORCE_RESTRICTED)

    assert [v.partition(" (")[0] for v in violations(decision)] == [
        "allowPrivilegeEscalation != false", "unrestricted capabilities", "seccompProfile",
    ]


def test_windows_host_process_pod_is_denied_by_baseline(pss_policies):
    decision = admit(pss_policies, manifest("windows-hostprocess-pod.yaml"), ENFORCE_BASELINE)

    assert sorted(violations(decision)) == [
        "host namespaces (hostNetwork=true)",
        "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)",
    ]


def test_user_namespace_pod_passes_baseline(pss_policies):
    assert admit(pss_policies, manifest("user-namespace-pod.yaml"), ENFORCE_BASELINE).allowed


def test_user_namespace_pod_under_restricted_is_denied_only_for_unmasked_proc(pss_policies):
    # v1.35 waives runAsNonRoot and runAsUser for hostUsers: false; procMount_restricted still applies.
    decision = admit(pss_policies, manifest("user-namespace-pod.yaml"), ENFORCE_RESTRICTED)

    assert violations(decision) == [
        'procMount (container "app" must not set securityContext.procMount to "Unmasked")'
    ]


def test_probe_host_containers_are_listed_as_a_sorted_set(pss_policies):
    pod = manifest("baseline-pod.yaml")
    pod["spec"]["containers"] = [
        {"name": name, "image": "registry.k8s.io/pause", "readinessProbe": {"tcpSocket": {"port": 80, "host": host}}}
        for name, host in (("web", "10.0.0.2"), ("api", "10.0.0.1"), ("db", "10.0.0.2"))
    ]

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    assert violations(decision) == [
        'probe or lifecycle host (containers "api", "db", "web" use probe or lifecycle hosts "10.0.0.1", "10.0.0.2")'
    ]


def test_host_ports_are_sorted_as_strings_as_psa_does(pss_policies):
    pod = manifest("baseline-pod.yaml")
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": p, "hostPort": p} for p in (9000, 10000, 9000)]

    decision = admit(pss_policies, pod, ENFORCE_BASELINE)

    assert violations(decision) == ['hostPort (container "app" uses hostPorts 10000, 9000)']


def test_minimal_restricted_pod_is_admitted_silently_under_every_mode(pss_policies):
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}

    decision = admit(pss_policies, manifest("restricted-pod.yaml"), labels)

    assert decision.allowed
    assert decision.warnings == ()
    assert decision.audit_annotations == {}
