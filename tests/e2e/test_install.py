"""The user's install, into the real API server, as the README says:

    helm template celgate charts/celgate -n celgate-system --include-crds | kubectl apply --server-side -f -

(kubectl and helm built from their Go modules), then celgate running as the Deployment would
(``in_cluster.py``: the image's entrypoint and the Deployment's args, the ServiceAccount's own
token, reached through the Service). No certificate script: celgate creates its Secret and
writes the caBundle itself. Then, with kubectl: a polyfill ValidatingAdmissionPolicy takes
effect within 10 s and its status says so; a broken generation shows the compiler's error in
status while the last good one keeps denying; a CA rotation under a request loop fails no
request.

The API server is shared with the rest of the suite, so the one value set on top of the
defaults narrows the webhook to this module's namespaces (webhook.namespaceSelector).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from typing import Any, Iterator

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from controlplane import find_binaries
from e2e_objects import WEBHOOK_PREFIX, pod, psa_labels
from in_cluster import InClusterCelgate, RequestLoop, can_unshare_mounts, host_address
from registration import REPO, wait_until

pytestmark = pytest.mark.e2e

CHART = REPO / "charts" / "celgate"
NAMESPACE = "celgate-system"
INSTALL_LABEL = "celgate.e2e/install"
POLYFILL = "admissionregistration.x-k8s.io/v1alpha1"
VAPS = "validatingadmissionpolicies.admissionregistration.x-k8s.io"
POLICY_NAME = "e2e-no-example-images"


class Tools:
    def __init__(self, cluster: Any) -> None:
        bin_dir = find_binaries()
        self.kubectl, self.helm = str(bin_dir / "kubectl"), str(bin_dir / "helm")
        self.env = {**os.environ, "KUBECONFIG": cluster.kubeconfig}

    def run(self, *argv: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=self.env, cwd=REPO, timeout=180)
        if check:
            assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc

    def kubectl_json(self, *argv: str) -> dict[str, Any]:
        return json.loads(self.run(self.kubectl, *argv, "-o", "json").stdout)


def polyfill_policy(expression: str, generation_note: str = "") -> str:
    policy = {
        "apiVersion": POLYFILL, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": POLICY_NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]},
            "validations": [{"expression": expression, "message": f"images from example.invalid are not allowed{generation_note}"}],
        },
    }
    binding = {
        "apiVersion": POLYFILL, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": POLICY_NAME},
        "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {INSTALL_LABEL: "true"}}}},
    }
    return yaml.safe_dump_all([policy, binding])


GOOD_EXPRESSION = "object.spec.containers.all(c, !c.image.startsWith('example.invalid/'))"
BROKEN_EXPRESSION = "object.spec.containers.all(c, !c.image.startsWith(nosuchvariable))"


@pytest.fixture(scope="module")
def installed(cluster, tmp_path_factory) -> Iterator[dict[str, Any]]:
    if not cluster.local:
        pytest.skip("the cluster under test already has celgate installed")
    if not can_unshare_mounts():
        pytest.skip("unshare --mount is not permitted here (needs root): cannot give celgate in-cluster files")
    address = host_address()
    if address is None:
        pytest.skip("no non-loopback IPv4 address for the Service's EndpointSlice")
    tools = Tools(cluster)
    rendered = tools.run(tools.helm, "template", "celgate", str(CHART), "--namespace", NAMESPACE, "--include-crds",
                         "--set-string", f"webhook.namespaceSelector.matchLabels.{INSTALL_LABEL.replace('.', chr(92) + '.')}=true").stdout
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    tools.run(tools.kubectl, "apply", "-f", str(REPO / "manifests" / "namespace.yaml"))
    applied = tools.run(tools.kubectl, "apply", "--server-side", "-f", "-", stdin=rendered).stdout
    tools.run(tools.kubectl, "wait", "--for=condition=Established", "--timeout=60s",
              f"crd/{VAPS}", "crd/validatingadmissionpolicybindings.admissionregistration.x-k8s.io")

    token = cluster.kube.must("POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/celgate/token",
                              {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                               "spec": {"expirationSeconds": 3600}})["status"]["token"]
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in documents if d["kind"] == "ConfigMap"}
    process = InClusterCelgate(tmp_path_factory.mktemp("installed"), deployment, configmaps,
                               api_port=int(cluster.control_plane.server_url.rsplit(":", 1)[1]),
                               ca_path=cluster.control_plane.ca_path, token=token, namespace=NAMESPACE)
    cluster.kube.apply({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "celgate-e2e", "namespace": NAMESPACE,
                     "labels": {"kubernetes.io/service-name": "celgate", "endpointslice.kubernetes.io/managed-by": "celgate-e2e"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": process.port, "protocol": "TCP"}],
    })
    process.start()
    namespace = cluster.create_namespace("install", {INSTALL_LABEL: "true", **psa_labels("baseline", "enforce")})
    try:
        yield {"tools": tools, "process": process, "namespace": namespace, "applied": applied, "documents": documents}
    finally:
        tools.run(tools.kubectl, "delete", "--ignore-not-found", "-f", "-", check=False,
                  stdin=polyfill_policy(GOOD_EXPRESSION))
        cluster.kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "celgate")
        process.stop()


def denied_by_celgate(outcome) -> bool:
    return not outcome.allowed and outcome.message.startswith(WEBHOOK_PREFIX)


def test_the_chart_installs_with_no_certificate_step_and_celgate_wires_its_own_ca_bundle(cluster, installed):
    for kind in ("customresourcedefinition.apiextensions.k8s.io/validatingadmissionpolicies.admissionregistration.x-k8s.io",
                 "deployment.apps/celgate", "configmap/celgate-policies", "configmap/pod-security-exemptions",
                 "role.rbac.authorization.k8s.io/celgate",
                 "validatingwebhookconfiguration.admissionregistration.k8s.io/celgate"):
        assert kind in installed["applied"], installed["applied"]
    secret = cluster.kube.must("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/celgate-tls")
    webhook = cluster.kube.must("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/celgate")
    ca_bundle = webhook["webhooks"][0]["clientConfig"]["caBundle"]
    assert ca_bundle == secret["data"]["ca.crt"]
    serving = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    serving.verify_directly_issued_by(x509.load_pem_x509_certificates(base64.b64decode(ca_bundle))[0])
    assert installed["process"].served_certificate() == serving.public_bytes(Encoding.DER)
    lease = cluster.kube.must("GET", f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/celgate-controller")
    assert lease["spec"]["holderIdentity"]
    # The shipped policies from the chart's ConfigMap are in force through the Service.
    outcome = wait_until(lambda: cluster.kube.create(pod("privileged", privileged=True), installed["namespace"], dry_run=True),
                         denied_by_celgate, "the installed webhook")
    assert "privileged" in outcome.message


def test_the_kustomize_base_is_accepted_by_a_server_side_dry_run(cluster, installed):
    tools = installed["tools"]
    manifests = tools.run(tools.kubectl, "kustomize", str(REPO / "manifests")).stdout
    tools.run(tools.kubectl, "apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-", stdin=manifests)


def test_a_polyfill_policy_applied_with_kubectl_denies_within_10_seconds_and_its_status_says_in_force(cluster, installed):
    tools, namespace = installed["tools"], installed["namespace"]
    bad_pod = pod("from-example")
    bad_pod["spec"]["containers"][0]["image"] = "example.invalid/app:1"
    started = time.monotonic()
    tools.run(tools.kubectl, "apply", "-f", "-", stdin=polyfill_policy(GOOD_EXPRESSION))
    outcome = wait_until(lambda: cluster.kube.create(bad_pod, namespace, dry_run=True), denied_by_celgate,
                         "the polyfill policy", timeout=10)
    elapsed = time.monotonic() - started
    assert f"ValidatingAdmissionPolicy '{POLICY_NAME}' with binding '{POLICY_NAME}' denied request: " \
           "images from example.invalid are not allowed" in outcome.message
    print(f"\ninstall: a polyfill policy applied with kubectl denied after {elapsed:.1f} s")
    listed = tools.run(tools.kubectl, "get", VAPS).stdout
    assert POLICY_NAME in listed

    def enforced_status() -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while True:
            status = tools.kubectl_json("get", VAPS, POLICY_NAME).get("status") or {}
            if status.get("observedGeneration") == 1 or time.monotonic() > deadline:
                return status
            time.sleep(0.5)

    status = enforced_status()
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == ("Enforced", "True", "Enforced")
    assert status["typeChecking"] == {"expressionWarnings": []}
    # A compliant Pod is still admitted.
    assert cluster.kube.create(pod("compliant"), namespace, dry_run=True).allowed


def test_a_broken_generation_shows_the_compile_error_in_status_and_the_last_good_one_keeps_serving(cluster, installed):
    tools, namespace = installed["tools"], installed["namespace"]
    tools.run(tools.kubectl, "apply", "-f", "-", stdin=polyfill_policy(GOOD_EXPRESSION))
    generation = tools.kubectl_json("get", VAPS, POLICY_NAME)["metadata"]["generation"]
    tools.run(tools.kubectl, "apply", "-f", "-", stdin=polyfill_policy(BROKEN_EXPRESSION, " (broken)"))
    deadline = time.monotonic() + 15
    while True:
        status = tools.kubectl_json("get", VAPS, POLICY_NAME).get("status") or {}
        if status.get("observedGeneration") == generation + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    (condition,) = status["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "Invalid"), condition
    assert f"generation {generation} keeps serving" in condition["message"]
    assert "spec.validations[0].expression" in condition["message"]
    assert "undeclared reference to 'nosuchvariable'" in condition["message"]
    bad_pod = pod("still-denied")
    bad_pod["spec"]["containers"][0]["image"] = "example.invalid/app:1"
    outcome = cluster.kube.create(bad_pod, namespace, dry_run=True)
    assert denied_by_celgate(outcome) and "(broken)" not in outcome.message, outcome.body
    tools.run(tools.kubectl, "apply", "-f", "-", stdin=polyfill_policy(GOOD_EXPRESSION))


def test_a_ca_rotation_under_a_request_loop_loses_no_request(cluster, installed):
    tools, namespace, process = installed["tools"], installed["namespace"], installed["process"]
    privileged = pod("rotation-privileged", privileged=True)

    def expect(outcome) -> str | None:
        return None if denied_by_celgate(outcome) and "privileged" in outcome.message else \
            f"HTTP {outcome.status}: {outcome.message or outcome.body}"

    before = cluster.kube.must("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/celgate-tls")
    with RequestLoop(lambda: cluster.kube.create(privileged, namespace, dry_run=True), expect) as loop:
        time.sleep(2)
        tools.run(tools.kubectl, "-n", NAMESPACE, "annotate", "secret", "celgate-tls", "celgate.io/rotate=now")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            secret = cluster.kube.must("GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/celgate-tls")
            annotations = secret["metadata"].get("annotations") or {}
            rotated = secret["data"]["tls.crt"] != before["data"]["tls.crt"] and not annotations
            if rotated and process.served_certificate() == x509.load_pem_x509_certificate(
                    base64.b64decode(secret["data"]["tls.crt"])).public_bytes(Encoding.DER):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the rotation did not complete in 90 s:\n{process.log_tail()}")
        time.sleep(3)  # requests against the new certificate too
    webhook = cluster.kube.must("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/celgate")
    bundle = x509.load_pem_x509_certificates(base64.b64decode(webhook["webhooks"][0]["clientConfig"]["caBundle"]))
    assert len(bundle) == 2  # the new CA, and the old one for replicas still serving its certificate
    old_ca = x509.load_pem_x509_certificates(base64.b64decode(before["data"]["ca.crt"]))[0]
    assert bundle[1] == old_ca and bundle[0] != old_ca
    print(f"\ninstall: CA rotation under a request loop: {loop.sent} requests, {len(loop.failures)} failed")
    assert loop.sent > 20 and not loop.failures, loop.failures[:5]


def test_the_shipped_crds_carry_the_live_apiservers_v1_schema(cluster):
    import importlib.util
    from importlib.machinery import SourceFileLoader

    loader = SourceFileLoader("generate_crds", str(REPO / "tools" / "generate-crds"))
    spec = importlib.util.spec_from_loader("generate_crds", loader)
    assert spec is not None
    generate = importlib.util.module_from_spec(spec)
    loader.exec_module(generate)
    openapi = cluster.kube.must("GET", "/openapi/v3/apis/admissionregistration.k8s.io/v1")
    for name, text in generate.render(openapi).items():
        assert (REPO / "manifests" / "crds" / name).read_text() == text, f"run tools/generate-crds: {name} is stale"
