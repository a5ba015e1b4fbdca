"""manifests/ installed into a real API server with the documented commands (docs/deploy.md):
kubectl kustomize | kubectl apply --server-side, and manifests/install-certs.sh.

There is no kubelet or controller-manager in the local control plane, so nothing runs: this
checks that the API server accepts every object as written and that the certificate step
leaves a Secret and a caBundle that belong together, also after a re-apply.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys

import pytest
from cryptography import x509

from e2e_objects import pod
from registration import REPO, wait_until

pytestmark = pytest.mark.e2e

MANIFESTS = REPO / "manifests"


def run(cluster, *argv: str, stdin: str | None = None) -> str:
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "CELGATE": f"{sys.executable} -m webhook.cli"}
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def kustomized(cluster) -> str:
    return run(cluster, "kubectl", "kustomize", "--load-restrictor=LoadRestrictionsNone", str(MANIFESTS))


@pytest.fixture
def installable(cluster):
    if not cluster.local:
        pytest.skip("the cluster under test already has celgate installed")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not found")
    yield
    # A webhook configuration whose Service has no endpoints would fail every later Pod create:
    # delete it and wait until the API server has stopped calling it.
    cluster.kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "celgate")
    ns = cluster.create_namespace("none")
    wait_until(lambda: cluster.kube.create(pod("after-install"), ns, dry_run=True),
               lambda outcome: outcome.allowed, "removing the installed webhook configuration")


def test_the_manifests_install_and_install_certs_wires_the_ca_bundle(cluster, installable):
    run(cluster, "kubectl", "apply", "-f", str(MANIFESTS / "namespace.yaml"))
    first = run(cluster, str(MANIFESTS / "install-certs.sh"))
    assert "not found yet" in first  # before the manifests: Secret only

    applied = run(cluster, "kubectl", "apply", "--server-side", "-f", "-", stdin=kustomized(cluster))
    for kind in ("deployment.apps/celgate", "service/celgate", "poddisruptionbudget.policy/celgate",
                 "horizontalpodautoscaler.autoscaling/celgate", "configmap/celgate-policies",
                 "configmap/pod-security-exemptions",
                 "validatingwebhookconfiguration.admissionregistration.k8s.io/celgate",
                 "clusterrole.rbac.authorization.k8s.io/celgate", "serviceaccount/celgate"):
        assert kind in applied, applied

    second = run(cluster, str(MANIFESTS / "install-certs.sh"))
    assert "reusing" in second and "patched" in second

    secret = cluster.kube.must("GET", "/api/v1/namespaces/celgate-system/secrets/celgate-tls")
    webhook = cluster.kube.must("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/celgate")
    ca_bundle = webhook["webhooks"][0]["clientConfig"]["caBundle"]
    assert ca_bundle == secret["data"]["ca.crt"]
    serving = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    ca = x509.load_pem_x509_certificate(base64.b64decode(ca_bundle))
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert "celgate.celgate-system.svc" in names

    # Re-applying the manifests (an upgrade) leaves the patched caBundle alone.
    run(cluster, "kubectl", "apply", "--server-side", "-f", "-", stdin=kustomized(cluster))
    again = cluster.kube.must("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/celgate")
    assert again["webhooks"][0]["clientConfig"]["caBundle"] == ca_bundle

    configmap = cluster.kube.must("GET", "/api/v1/namespaces/celgate-system/configmaps/celgate-policies")
    assert "pod-security.enforce.yaml" in configmap["data"]
    exemptions = cluster.kube.must("GET", "/api/v1/namespaces/celgate-system/configmaps/pod-security-exemptions")
    assert set(exemptions["data"]) == {"usernames", "runtimeClasses", "namespaces"}
