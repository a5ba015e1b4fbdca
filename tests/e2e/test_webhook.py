"""celgate registered with a real kube-apiserver: what a kubectl user sees.

Every request here goes through the API server's admission chain to celgate and back; the
assertions are on the HTTP status, the Status message, the Warning headers and the audit log.
"""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from celgate_process import CelgateProcess
from e2e_objects import SHIPPED_POLICIES, WEBHOOK_PREFIX, pod, psa_labels
from registration import REPO, wait_until

pytestmark = pytest.mark.e2e

DEPLOYMENT_MANIFEST = REPO / "manifests" / "deployment.yaml"


def deployment(name: str, template_pod: dict) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": template_pod["spec"]}},
    }


def test_a_privileged_pod_is_rejected_with_celgate_message(cluster, webhook, namespace):
    ns = namespace(labels=psa_labels("baseline", "enforce"))
    outcome = cluster.kube.create(pod("privileged", privileged=True), ns)
    assert outcome.status == 403
    assert outcome.reason == "Forbidden"
    assert outcome.message == (
        WEBHOOK_PREFIX + "ValidatingAdmissionPolicy 'pss-enforce' with binding 'pss-enforce' denied request: "
        'violates PodSecurity "baseline:latest": privileged (container "main" must not set securityContext.privileged=true)'
    )


def test_a_compliant_pod_is_admitted_and_stored(cluster, webhook, namespace):
    ns = namespace(labels=psa_labels("restricted", "enforce", "warn", "audit"))
    outcome = cluster.kube.create(pod("compliant", restricted=True), ns)
    assert outcome.allowed, outcome.body
    assert outcome.warnings == ()
    stored = cluster.kube.must("GET", f"/api/v1/namespaces/{ns}/pods/compliant")
    assert stored["metadata"]["uid"]


def test_a_deployment_with_a_privileged_template_gets_a_warning_not_a_denial(cluster, webhook, namespace):
    # PSA semantics: workload templates are warned about, only Pods are enforced.
    ns = namespace(labels=psa_labels("baseline", "enforce", "warn"))
    outcome = cluster.kube.create(deployment("web", pod("x", privileged=True)), ns, dry_run=True)
    assert outcome.allowed, outcome.body
    assert outcome.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'pss-warn' with binding 'pss-warn': "
        'would violate PodSecurity "baseline:latest": '
        'privileged (container "main" must not set securityContext.privileged=true)',
    )


def test_celgate_own_deployment_is_admitted_without_warnings(cluster, webhook, namespace):
    ns = namespace(labels=psa_labels("restricted", "enforce", "warn", "audit"))
    own = copy.deepcopy(yaml.safe_load(DEPLOYMENT_MANIFEST.read_text()))
    own["metadata"].pop("namespace")
    outcome = cluster.kube.create(own, ns, dry_run=True)
    assert outcome.allowed, outcome.body
    assert outcome.warnings == ()


def _audit_event(cluster, ns: str, name: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in reversed(cluster.audit_events()):
            ref = event.get("objectRef") or {}
            if ref.get("namespace") == ns and ref.get("name") == name and event.get("stage") == "ResponseComplete":
                return event
        time.sleep(0.2)
    raise AssertionError(f"no audit event for {ns}/{name}")


def test_warn_and_audit_bindings_surface_as_warning_headers_and_audit_annotations(cluster, webhook, namespace):
    if not cluster.has_audit_log:
        pytest.skip("no API server audit log (set CELGATE_E2E_AUDIT_LOG or CELGATE_E2E_AUDIT_LOG_CMD)")
    ns = namespace(labels={**psa_labels("baseline", "warn", "audit")})
    outcome = cluster.kube.create(pod("host-network", hostNetwork=True), ns)
    assert outcome.allowed, outcome.body  # nothing enforced
    assert outcome.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'pss-warn' with binding 'pss-warn': "
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)',
    )
    annotations = _audit_event(cluster, ns, "host-network").get("annotations") or {}
    celgate_annotations = {k: v for k, v in annotations.items() if k.startswith("validate.celgate.io/")}
    assert celgate_annotations, f"no celgate audit annotation among {sorted(annotations)}"
    (value,) = celgate_annotations.values()
    assert "pss-audit" in value
    assert "host namespaces (hostNetwork=true)" in value


def test_a_namespace_label_change_takes_effect(cluster, webhook, namespace):
    ns = namespace()
    privileged = pod("flip", privileged=True)
    assert cluster.kube.create(privileged, ns, dry_run=True).allowed  # not opted in yet
    cluster.kube.must("PATCH", f"/api/v1/namespaces/{ns}",
                      {"metadata": {"labels": psa_labels("baseline", "enforce")}},
                      content_type="application/merge-patch+json")
    denied = wait_until(lambda: cluster.kube.create(privileged, ns, dry_run=True),
                        lambda outcome: not outcome.allowed, "the enforce label", timeout=15)
    assert "'pss-enforce'" in denied.message


def test_param_ref_resolves_from_a_real_configmap(cluster, webhook, namespace):
    ns = namespace(labels={"celgate.e2e/custom": "params"})
    two = pod("two")
    two["spec"]["containers"].append({"name": "side", "image": "celgate.invalid/noop:0"})
    missing = cluster.kube.create(two, ns, dry_run=True)
    assert missing.message == (  # parameterNotFoundAction: Deny, worded as the built-in plugin does
        WEBHOOK_PREFIX + "ValidatingAdmissionPolicy 'e2e-param-limits' with binding 'e2e-param-limits' "
        "denied request: failed to configure binding: no params found for policy binding with `Deny` "
        "parameterNotFoundAction"
    )
    cluster.kube.must("POST", f"/api/v1/namespaces/{ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e2e-limits"},
        "data": {"maxContainers": "1", "maxReplicas": "3"},
    })
    denied = wait_until(lambda: cluster.kube.create(two, ns, dry_run=True),
                        lambda outcome: "containers" in outcome.message, "the ConfigMap param", timeout=15)
    assert denied.message == (
        WEBHOOK_PREFIX + "ValidatingAdmissionPolicy 'e2e-param-limits' with binding 'e2e-param-limits' "
        "denied request: at most 1 containers, got 2"
    )
    assert cluster.kube.create(pod("one"), ns, dry_run=True).allowed


def test_kube_system_is_never_blocked(cluster, webhook):
    # Even labelled enforce=restricted: the webhook's namespaceSelector never sends kube-system.
    cluster.kube.must("PATCH", "/api/v1/namespaces/kube-system",
                      {"metadata": {"labels": {**psa_labels("restricted", "enforce"), "celgate.e2e/mode": "webhook"}}},
                      content_type="application/merge-patch+json")
    try:
        outcome = cluster.kube.create(pod("privileged", privileged=True), "kube-system", dry_run=True)
        assert outcome.allowed, outcome.body
        assert outcome.warnings == ()
    finally:
        cluster.kube.must("PATCH", "/api/v1/namespaces/kube-system",
                          {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": None, "celgate.e2e/mode": None}}},
                          content_type="application/merge-patch+json")


@pytest.mark.parametrize("failure_policy, admitted", [("Fail", False), ("Ignore", True)])
def test_an_unreachable_webhook_blocks_with_fail_and_admits_with_ignore(
    cluster, webhook, namespace, tmp_path, failure_policy, admitted
):
    if not cluster.local:
        pytest.skip("needs a celgate process the suite can stop")
    mode = f"down-{failure_policy.lower()}"
    ns = namespace(mode=mode, labels=psa_labels("baseline", "enforce"))
    process = CelgateProcess(tmp_path, [SHIPPED_POLICIES], cluster.kubeconfig).start()
    name = f"celgate-e2e-{mode}"
    try:
        webhook.register(name=name, failure_policy=failure_policy, mode=mode,
                         client_config={"url": process.url, "caBundle": process.ca_bundle})
        probe = pod("probe", privileged=True)
        wait_until(lambda: cluster.kube.create(probe, ns, dry_run=True),
                   lambda outcome: outcome.message.startswith(WEBHOOK_PREFIX), f"webhook {name}")
        process.stop()
        outcome = cluster.kube.create(pod("while-down"), ns, dry_run=True)
        assert outcome.allowed is admitted, outcome.body
        if not admitted:
            assert outcome.status == 500
            assert 'failed calling webhook "validate.celgate.io"' in outcome.message
    finally:
        process.stop()
        cluster.kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", name)
