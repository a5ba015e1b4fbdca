"""charts/celgate: helm lint, helm template under the values users set, the values schema, and
the rendered chart held to celgate's own restricted policies. manifests/ must equal the chart's
default rendering (tools/render-manifests --check).

A real API server accepting the rendering (server-side dry run) is tests/e2e/test_install.py.
helm comes from $HELM, PATH, or the bin directory tests/e2e/build-controlplane.sh fills; the
tests skip, naming why, when there is none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.cli import main as celgate

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "celgate"
NAMESPACE = "celgate-system"


def _helm() -> str | None:
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    if shutil.which("helm"):
        return shutil.which("helm")
    bin_dir = os.environ.get("CELGATE_CONTROLPLANE_BIN")
    candidates = [Path(bin_dir)] if bin_dir else sorted(
        (Path(os.environ.get("CELGATE_CACHE", Path.home() / ".cache" / "celgate")) / "controlplane").glob("*/bin"))
    return next((str(c / "helm") for c in candidates if (c / "helm").is_file()), None)


HELM = _helm()
pytestmark = pytest.mark.skipif(HELM is None, reason="no helm (tests/e2e/build-controlplane.sh builds it)")


def helm(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([HELM, *argv], capture_output=True, text=True, timeout=120)  # type: ignore[list-item]
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(*sets: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    argv = ["template", "celgate", str(CHART), "--namespace", namespace, "--include-crds"]
    for value in sets:
        argv += ["--set", value]
    return [d for d in yaml.safe_load_all(helm(*argv).stdout) if d]


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def test_helm_lint_passes():
    helm("lint", "--strict", str(CHART))


def test_manifests_are_the_charts_default_rendering():
    result = subprocess.run([str(REPO / "tools" / "render-manifests"), "--check"], capture_output=True, text=True,
                            env={**os.environ, "HELM": HELM}, timeout=120)  # type: ignore[dict-item]
    assert result.returncode == 0, result.stderr


def test_the_default_rendering_has_crds_self_managed_certificates_and_no_extras():
    documents = render()
    kinds = {d["kind"] for d in documents}
    assert {"CustomResourceDefinition", "Deployment", "ValidatingWebhookConfiguration", "Role", "ConfigMap"} <= kinds
    assert not kinds & {"Certificate", "Issuer", "ServiceMonitor", "PrometheusRule"}
    (webhook,) = by_kind(documents, "ValidatingWebhookConfiguration")
    assert "annotations" not in webhook["metadata"]


def test_the_webhook_never_selects_its_own_namespace_or_kube_system_whatever_the_values():
    documents = render("webhook.namespaceSelector.matchLabels.team=a", "webhook.failurePolicy=Ignore",
                       "webhook.timeoutSeconds=5", "webhook.objectSelector.matchLabels.checked=yes", namespace="guard")
    (hook,) = by_kind(documents, "ValidatingWebhookConfiguration")[0]["webhooks"]
    assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "guard"]} \
        in hook["namespaceSelector"]["matchExpressions"]
    assert hook["namespaceSelector"]["matchLabels"] == {"team": "a"}
    assert hook["objectSelector"] == {"matchLabels": {"checked": "yes"}}
    assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Ignore", 5)
    assert hook["clientConfig"]["service"]["namespace"] == "guard"


def test_cert_manager_mode_renders_the_issuers_the_certificate_and_the_cainjector_annotation():
    documents = render("certificates.mode=cert-manager")
    assert len(by_kind(documents, "Issuer")) == 2 and len(by_kind(documents, "Certificate")) == 2
    (webhook,) = by_kind(documents, "ValidatingWebhookConfiguration")
    assert webhook["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": f"{NAMESPACE}/celgate"}
    (deployment,) = by_kind(documents, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--tls-secret" not in args
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"] == {"name": "tls", "secret": {"secretName": "celgate-tls"}}
    assert not [r for r in by_kind(documents, "Role")[0]["rules"] if "secrets" in r["resources"]]


def test_policy_values_choose_what_the_configmap_holds_and_what_celgate_watches():
    documents = render("policies.podSecurity=false", "policies.cluster=false",
                       "policies.extra.team\\.yaml=kind: ValidatingAdmissionPolicy")
    (configmap,) = [d for d in by_kind(documents, "ConfigMap") if d["metadata"]["name"] == "celgate-policies"]
    assert configmap["data"] == {"extra.team.yaml": "kind: ValidatingAdmissionPolicy"}
    (deployment,) = by_kind(documents, "Deployment")
    assert "--cluster-policies" not in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    rules = by_kind(documents, "ClusterRole")[0]["rules"]
    assert not [r for r in rules if "admissionregistration.x-k8s.io" in r["apiGroups"]]


def test_policy_reports_add_read_create_and_replace_of_reports_only():
    rules = by_kind(render("policyReports.enabled=true"), "ClusterRole")[0]["rules"]
    reports = [r for r in rules if "wgpolicyk8s.io" in r["apiGroups"]]
    assert reports == [{"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports", "clusterpolicyreports"],
                        "verbs": ["get", "create", "update"]}]
    assert not [r for r in by_kind(render(), "ClusterRole")[0]["rules"] if "wgpolicyk8s.io" in r["apiGroups"]]


def test_a_client_ca_configmap_makes_celgate_require_the_apiservers_certificate():
    (deployment,) = by_kind(render("webhook.clientCA.configMap=apiserver-webhook-ca"), "Deployment")
    pod_spec = deployment["spec"]["template"]["spec"]
    args = pod_spec["containers"][0]["args"]
    assert args[args.index("--client-ca-file") + 1] == "/etc/celgate/client-ca/ca.crt"
    assert {"name": "client-ca", "mountPath": "/etc/celgate/client-ca", "readOnly": True} in pod_spec["containers"][0]["volumeMounts"]
    assert {"name": "client-ca", "configMap": {"name": "apiserver-webhook-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in pod_spec["volumes"]
    # probes stay on the plain port: a kubelet has no client certificate
    assert pod_spec["containers"][0]["readinessProbe"]["httpGet"]["port"] == "metrics"
    (default,) = by_kind(render(), "Deployment")
    assert "--client-ca-file" not in default["spec"]["template"]["spec"]["containers"][0]["args"]


def test_replicas_resources_and_monitoring_values_are_rendered():
    documents = render("replicas=3", "resources.limits.memory=1Gi", "autoscaling.enabled=false",
                       "metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
                       "metrics.dashboard.enabled=true", "policyReports.enabled=true")
    (deployment,) = by_kind(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert {"name": "CELGATE_POLICY_REPORTS", "value": "true"} in container["env"]
    assert not by_kind(documents, "HorizontalPodAutoscaler")
    (monitor,) = by_kind(documents, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == NAMESPACE
    assert by_kind(documents, "PrometheusRule")
    dashboards = [d for d in by_kind(documents, "ConfigMap") if d["metadata"].get("labels", {}).get("grafana_dashboard")]
    assert json.loads(dashboards[0]["data"]["celgate.json"])


@pytest.mark.parametrize("value", ["webhook.failurePolicy=Sometimes", "certificates.mode=vault", "replicas=0",
                                   "webhook.timeoutSeconds=31", "policies.extra.bad/name=x", "unknown=1"])
def test_the_values_schema_rejects(value):
    result = helm("template", "celgate", str(CHART), "--set", value, check=False)
    assert result.returncode != 0 and "values don't meet the specifications of the schema" in result.stderr


def test_the_rendered_chart_passes_celgates_own_restricted_policies(tmp_path, capsys):
    # The release namespace is exempt from every shipped policy; render into one that is not.
    documents = [d for d in render(namespace="restricted-check") if d["kind"] != "CustomResourceDefinition"]
    rendered = tmp_path / "chart.yaml"
    rendered.write_text(yaml.safe_dump_all(documents))
    labels = ",".join(f"pod-security.kubernetes.io/{mode}=restricted" for mode in ("enforce", "warn", "audit"))
    capsys.readouterr()
    code = celgate(["test", "--policies", str(REPO / "policies"), "--namespace-labels",
                    f"restricted-check={labels}", "--output", "json", str(rendered)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    (deployment,) = [r for r in report["results"] if r["kind"] == "Deployment"]
    assert deployment["allowed"] and deployment["warnings"] == [] and deployment["auditAnnotations"] == {}


def test_certs_cert_manager_yaml_holds_the_charts_cert_manager_objects():
    rendered = [d for d in render("certificates.mode=cert-manager") if d["kind"] in ("Issuer", "Certificate")]
    shipped = [d for d in yaml.safe_load_all((REPO / "certs" / "cert-manager.yaml").read_text()) if d]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(shipped, key=key) == sorted(rendered, key=key)



def test_the_certs_overlay_swaps_self_managed_certificates_for_cert_manager():
    kubectl = Path(HELM).with_name("kubectl")  # type: ignore[arg-type]
    if not kubectl.is_file():
        pytest.skip("no kubectl beside helm (tests/e2e/build-controlplane.sh builds both)")
    result = subprocess.run([str(kubectl), "kustomize", str(REPO / "certs")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    (webhook,) = by_kind(documents, "ValidatingWebhookConfiguration")
    assert webhook["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": f"{NAMESPACE}/celgate"}
    (deployment,) = by_kind(documents, "Deployment")
    pod_spec = deployment["spec"]["template"]["spec"]
    assert "--tls-secret" not in pod_spec["containers"][0]["args"]
    assert {"name": "tls", "secret": {"secretName": "celgate-tls"}} in pod_spec["volumes"]
    assert len(by_kind(documents, "Certificate")) == 2
    rules = [r for d in by_kind(documents, "Role") + by_kind(documents, "ClusterRole") for r in d["rules"]]
    assert not [r for r in rules if {"secrets", "validatingwebhookconfigurations"} & set(r["resources"])]
