"""The deployment manifests (rendered from charts/celgate by tools/render-manifests): they parse,
they hang together, and celgate's own Deployment passes the shipped restricted Pod Security
policies when `celgate test` checks it.

A real API server accepting them (server-side dry run) is tests/e2e/test_install.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.cli import main as celgate

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"
POLICIES = REPO / "policies"
SYSTEM_NAMESPACE = "celgate-system"
RESTRICTED = "pod-security.kubernetes.io/{mode}=restricted"


def load_manifests() -> dict[tuple[str, str], dict[str, Any]]:
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document is None:
                continue
            key = (document["kind"], document["metadata"]["name"])
            assert key not in objects, f"{path.name}: {key} defined twice"
            objects[key] = document
    return objects


MANIFEST_OBJECTS = load_manifests()
KUSTOMIZATION = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())


def obj(kind: str, name: str = "celgate") -> dict[str, Any]:
    return MANIFEST_OBJECTS[(kind, name)]


def deployment_pod_spec() -> dict[str, Any]:
    return obj("Deployment")["spec"]["template"]["spec"]


def container() -> dict[str, Any]:
    (only,) = deployment_pod_spec()["containers"]
    return only


def test_every_manifest_file_is_in_the_kustomization():
    # Besides manifests/, the Pod Security exemptions ConfigMap is applied from policies/.
    listed = {r for r in KUSTOMIZATION["resources"] if not r.startswith("../policies/")}
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert {r for r in listed if "/" not in r} == on_disk
    assert {r for r in listed if r.startswith("crds/")} == {f"crds/{p.name}" for p in (MANIFESTS / "crds").glob("*.yaml")}
    assert "configMapGenerator" not in KUSTOMIZATION  # nothing outside manifests/: no --load-restrictor


def test_the_policy_configmap_holds_every_shipped_pod_security_file():
    # manifests/policies.yaml is rendered from the chart, which globs policies/pod-security: a
    # new policy file needs no list edited, only tools/render-manifests (this test says when).
    data = obj("ConfigMap", "celgate-policies")["data"]
    shipped = {str(p.relative_to(POLICIES)).replace("/", "."): p.read_text()
               for p in (POLICIES / "pod-security").rglob("*.yaml")}
    missing = sorted(set(shipped) - set(data))
    assert not missing, f"run tools/render-manifests: manifests/policies.yaml lacks {missing}"
    stale = sorted(k for k in shipped if data[k].rstrip("\n") != shipped[k].rstrip("\n"))
    assert not stale, f"run tools/render-manifests: manifests/policies.yaml has old copies of {stale}"
    assert not set(data) - set(shipped)
    for key in data:  # ConfigMap keys: no "/", the mount is one flat directory
        assert re.fullmatch(r"[-._a-zA-Z0-9]+", key), key


def test_the_deployment_mounts_the_policy_configmap_where_policies_points():
    args = container()["args"]
    policies_dir = args[args.index("--policies") + 1]
    mounts = {m["name"]: m for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment_pod_spec()["volumes"]}
    (policy_volume,) = [n for n, v in volumes.items() if "configMap" in v]
    assert volumes[policy_volume]["configMap"]["name"] == "celgate-policies"
    assert mounts[policy_volume]["mountPath"] == policies_dir


def test_certificates_are_self_managed_and_cluster_policies_enforced_by_default():
    args = container()["args"]
    assert args[args.index("--tls-secret") + 1] == "celgate-tls"
    assert args[args.index("--webhook-configuration") + 1] == obj("ValidatingWebhookConfiguration")["metadata"]["name"]
    assert "--cluster-policies" in args
    volumes = {v["name"]: v for v in deployment_pod_spec()["volumes"]}
    assert "emptyDir" in volumes["tls"]  # celgate writes the served files itself


def test_everything_namespaced_lives_in_celgate_system():
    for (kind, name), document in MANIFEST_OBJECTS.items():
        if kind in ("Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"):
            assert "namespace" not in document["metadata"], (kind, name)
        else:
            assert document["metadata"]["namespace"] == SYSTEM_NAMESPACE, (kind, name)


# Every permission celgate's webhook holds, each with the code that needs it (SECURITY.md).
# (role kind, api group, resource, verb, resourceName or None)
WEBHOOK_PERMISSIONS = {
    # webhook/cluster.py: the Namespace informer, and a get for a namespace newer than the cache
    *{("ClusterRole", "", "namespaces", verb, None) for verb in ("get", "list", "watch")},
    # webhook/cluster.py: the param informer (ConfigMap params); params are read from its cache
    *{("ClusterRole", "", "configmaps", verb, None) for verb in ("list", "watch")},
    # webhook/cluster_authorizer.py: the CEL authorizer library
    ("ClusterRole", "authorization.k8s.io", "subjectaccessreviews", "create", None),
    # webhook/cluster_policies.py informers, webhook/cluster_controller.py status merge patch
    *{("ClusterRole", "admissionregistration.x-k8s.io", resource, verb, None)
      for resource in ("validatingadmissionpolicies", "validatingadmissionpolicybindings")
      for verb in ("get", "list", "watch")},
    ("ClusterRole", "admissionregistration.x-k8s.io", "validatingadmissionpolicies/status", "patch", None),
    # webhook/cluster_controller.py: the caBundle of celgate's own configuration only
    *{("ClusterRole", "admissionregistration.k8s.io", "validatingwebhookconfigurations", verb, "celgate")
      for verb in ("get", "patch")},
    # webhook/leader.py: create the Lease once, then read and renew it by name
    ("Role", "coordination.k8s.io", "leases", "create", None),
    *{("Role", "coordination.k8s.io", "leases", verb, "celgate-controller") for verb in ("get", "update")},
    # webhook/cluster_controller.py: create the certificate Secret once, then read and replace it
    ("Role", "", "secrets", "create", None),
    *{("Role", "", "secrets", verb, "celgate-tls") for verb in ("get", "update")},
}


def permissions(*kinds: str) -> set[tuple[str, str, str, str, str | None]]:
    return {
        (kind, group, resource, verb, name)
        for kind in kinds for rule in obj(kind)["rules"]
        for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"]
        for name in (rule.get("resourceNames") or [None])
    }


def test_rbac_grants_exactly_what_celgate_calls():
    assert permissions("ClusterRole", "Role") == WEBHOOK_PERMISSIONS
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = obj(kind)
        assert binding["roleRef"]["name"] == "celgate"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "celgate", "namespace": SYSTEM_NAMESPACE}]


def test_rbac_never_grants_wildcards_escalation_or_secrets_beyond_its_own():
    for kind in ("ClusterRole", "Role"):
        for rule in obj(kind)["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
            assert not {"escalate", "bind", "impersonate", "delete", "deletecollection"} & set(rule["verbs"]), rule
    assert not [r for r in obj("ClusterRole")["rules"] if {"secrets", "pods", "serviceaccounts"} & set(r["resources"])]


def test_the_policy_report_rbac_reads_creates_and_replaces_reports_only():
    (role,) = [d for d in yaml.safe_load_all((MANIFESTS / "policy-reports" / "rbac.yaml").read_text())
               if d and d["kind"] == "ClusterRole"]
    assert role["rules"] == [{"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports", "clusterpolicyreports"],
                              "verbs": ["get", "create", "update"]}]


def test_the_service_account_token_is_mounted_only_by_the_deployment():
    assert obj("ServiceAccount")["automountServiceAccountToken"] is False
    assert deployment_pod_spec()["serviceAccountName"] == "celgate"
    assert deployment_pod_spec()["automountServiceAccountToken"] is True


def test_the_deployment_is_hardened():
    spec = deployment_pod_spec()
    security = container()["securityContext"]
    assert obj("Deployment")["spec"]["replicas"] >= 2
    assert spec["affinity"]["podAntiAffinity"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container()["resources"]) == {"requests", "limits"}
    tmp = [m for m in container()["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert tmp and "emptyDir" in {v["name"]: v for v in spec["volumes"]}[tmp[0]["name"]]


def test_probes_use_the_plain_metrics_port():
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert container()["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container()["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    dockerfile = (REPO / "Dockerfile").read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*?\])$", dockerfile, re.M | re.S).group(1).replace("\\\n", ""))
    assert entrypoint[entrypoint.index("--metrics-port") + 1] == str(ports["metrics"])
    assert entrypoint[entrypoint.index("--port") + 1] == str(ports["https"])
    assert "--in-cluster" in entrypoint


def test_service_pdb_and_hpa_target_the_deployment():
    selector = obj("Deployment")["spec"]["selector"]["matchLabels"]
    assert obj("Service")["spec"]["selector"] == selector
    (https,) = [p for p in obj("Service")["spec"]["ports"] if p["name"] == "https"]
    assert (https["port"], https["targetPort"]) == (443, "https")
    assert obj("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    hpa = obj("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "celgate"}
    assert hpa["minReplicas"] >= 2


def test_the_webhook_excludes_kube_system_and_celgate_system():
    (hook,) = obj("ValidatingWebhookConfiguration")["webhooks"]
    (expression,) = hook["namespaceSelector"]["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name"
    assert expression["operator"] == "NotIn"
    assert set(expression["values"]) == {"kube-system", SYSTEM_NAMESPACE}


def test_the_webhook_fails_closed_and_has_no_side_effects():
    (hook,) = obj("ValidatingWebhookConfiguration")["webhooks"]
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["timeoutSeconds"] == 10
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["clientConfig"]["service"] == {
        "name": "celgate", "namespace": SYSTEM_NAMESPACE, "path": "/validate", "port": 443,
    }


def test_the_webhook_sees_pods_and_every_workload_kind_on_create_and_update():
    (hook,) = obj("ValidatingWebhookConfiguration")["webhooks"]
    seen = set()
    for rule in hook["rules"]:
        assert rule["operations"] == ["CREATE", "UPDATE"]
        seen |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert seen >= {
        ("", "pods"), ("", "replicationcontrollers"), ("", "podtemplates"),
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
        ("batch", "jobs"), ("batch", "cronjobs"),
    }


def _celgate_test_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], objects: list[dict[str, Any]],
                       namespace: str) -> list[dict[str, Any]]:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    labels = ",".join(RESTRICTED.format(mode=mode) for mode in ("enforce", "warn", "audit"))
    capsys.readouterr()
    code = celgate(["test", "--policies", str(POLICIES), "--namespace-labels", f"{namespace}={labels}",
                    "--output", "json", str(manifest)])
    report = json.loads(capsys.readouterr().out)
    return [code, report["results"]]


def test_celgate_own_deployment_passes_the_restricted_policies(tmp_path, capsys):
    # celgate-system is exempt from every shipped policy, so check it in a namespace that is not.
    namespace = "restricted-check"
    deployment = copy.deepcopy(obj("Deployment"))
    deployment["metadata"]["namespace"] = namespace
    template = deployment["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "celgate-pod", "namespace": namespace, **template["metadata"]},
           "spec": template["spec"]}
    # The same Pod made privileged: proves the namespace labels were in force.
    privileged = copy.deepcopy(pod)
    privileged["metadata"]["name"] = "celgate-privileged"
    privileged["spec"]["containers"][0]["securityContext"]["privileged"] = True

    code, results = _celgate_test_json(tmp_path, capsys, [deployment, pod, privileged], namespace)

    verdicts = {r["name"]: r for r in results}
    for name in ("celgate", "celgate-pod"):
        assert verdicts[name]["allowed"] is True, verdicts[name]
        assert verdicts[name]["warnings"] == [], verdicts[name]["warnings"]
        assert verdicts[name]["auditAnnotations"] == {}, verdicts[name]["auditAnnotations"]
    assert verdicts["celgate-privileged"]["allowed"] is False
    assert "privileged" in verdicts["celgate-privileged"]["status"]["message"]
    assert code == 1  # the privileged copy, and only it, was denied


def test_the_image_runs_as_a_numeric_non_root_user_on_a_pinned_base():
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    uid = int(user.split(":")[0])
    assert uid == deployment_pod_spec()["securityContext"]["runAsUser"] and uid > 0
    ignored = [line for line in (REPO / ".dockerignore").read_text().splitlines() if not line.startswith("#")]
    assert ignored[0] == "*" and {"!webhook/", "!policies/", "!pyproject.toml", "!README.md"} <= set(ignored)


def _pod_templates() -> list[tuple[str, dict[str, Any]]]:
    """Every pod template shipped under manifests/ (the webhook, the scanner, the canary)."""
    found = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") not in ("Deployment", "CronJob", "Job"):
                continue
            spec = document["spec"]
            template = spec["jobTemplate"]["spec"]["template"] if document["kind"] == "CronJob" else spec["template"]
            found.append((f"{path.relative_to(MANIFESTS)}:{document['metadata']['name']}", template["spec"]))
    return found


@pytest.mark.parametrize("where,pod", _pod_templates(), ids=[w for w, _ in _pod_templates()])
def test_every_shipped_pod_runs_unprivileged(where: str, pod: dict[str, Any]):
    assert not {"hostNetwork", "hostPID", "hostIPC"} & {k for k, v in pod.items() if v}, where
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not [v for v in pod.get("volumes", []) if "hostPath" in v], where
    for c in pod["containers"] + pod.get("initContainers", []):
        security = c["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security.get("privileged") is not True, where
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["capabilities"] == {"drop": ["ALL"]}, where
        assert not [p for p in c.get("ports", []) if "hostPort" in p], where
