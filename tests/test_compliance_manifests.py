"""The compliance bundles: manifests/scan/, manifests/canary/, manifests/policy-reports/ and
manifests/audit/. Their workloads pass celgate's own restricted policies (through
``celgate scan`` on the files), each kustomization lists its files, the canary's good and
bad Pods are what the canary says they are, and the audit Policy records Pods in full and
Secrets as metadata only."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from webhook.canary import bad_pod, good_pod
from webhook.cli import main

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"
BUNDLES = ("scan", "canary", "policy-reports")
RESTRICTED = "pod-security.kubernetes.io/enforce=restricted"


def _documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_each_kustomization_lists_real_files(bundle):
    kustomization = yaml.safe_load((MANIFESTS / bundle / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (MANIFESTS / bundle / resource).is_file(), resource


def _pod_templates() -> list[tuple[str, dict]]:
    found = []
    for path in [*(MANIFESTS / "scan").glob("*.yaml"), *(MANIFESTS / "canary").glob("*.yaml")]:
        for doc in _documents(path):
            spec = doc.get("spec") or {}
            template = (spec.get("jobTemplate") or {}).get("spec", {}).get("template") or spec.get("template")
            if doc["kind"] == "KuberhealthyCheck":
                template = {"metadata": {}, "spec": spec["podSpec"]}
            if template:
                found.append((f"{path.name}:{doc['kind']}", template))
    return found


def test_every_scan_and_canary_workload_passes_the_restricted_policies(tmp_path, capsys):
    pods = []
    for index, (where, template) in enumerate(_pod_templates()):
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"pod-{index}", "namespace": "restricted-check", "annotations": {"from": where}},
                     "spec": copy.deepcopy(template["spec"])})
    assert len(pods) >= 4
    (tmp_path / "pods.yaml").write_text(yaml.safe_dump_all(pods))
    code = main(["scan", str(tmp_path / "pods.yaml"), "--namespace-labels", f"restricted-check={RESTRICTED}",
                 "--policies", str(REPO / "policies"), "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    failing = [(r["name"], r["status"]) for r in report["results"] if not r["allowed"] or r["warnings"]]
    assert failing == [] and code == 0


def test_the_canary_pods_are_one_denied_and_one_admitted_under_restricted(tmp_path, capsys):
    pods = []
    for pod in (bad_pod(), good_pod()):
        pod["metadata"]["namespace"] = "celgate-canary"
        pods.append(pod)
    (tmp_path / "canary.yaml").write_text(yaml.safe_dump_all(pods))
    main(["scan", str(tmp_path / "canary.yaml"), "--namespace-labels", f"celgate-canary={RESTRICTED}",
          "--policies", str(REPO / "policies"), "-o", "json"])
    verdicts = {r["name"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert verdicts["celgate-canary-privileged"]["allowed"] is False
    assert "privileged" in verdicts["celgate-canary-privileged"]["status"]["message"]
    assert verdicts["celgate-canary-restricted"]["allowed"] is True
    assert verdicts["celgate-canary-restricted"]["warnings"] == []


def test_the_scanner_and_the_canary_are_never_endpoints_of_the_webhook_service():
    service = yaml.safe_load((MANIFESTS / "service.yaml").read_text())
    for _, template in _pod_templates():
        labels = template["metadata"].get("labels") or {}
        assert not service["spec"]["selector"].items() <= labels.items()


def _first_rule(policy: dict, group: str, resource: str, verb: str) -> dict:
    for rule in policy["rules"]:
        if "nonResourceURLs" in rule:
            continue
        if rule.get("verbs") and verb not in rule["verbs"]:
            continue
        resources = rule.get("resources")
        if resources is None or any(r.get("group", "") == group and resource in r.get("resources", [resource]) for r in resources):
            return rule
    raise AssertionError(f"no rule for {group}/{resource}")


@pytest.mark.parametrize(("group", "resource", "verb", "level"), [
    ("", "pods", "create", "RequestResponse"),
    ("", "pods", "update", "RequestResponse"),
    ("", "secrets", "create", "Metadata"),
    ("", "secrets", "get", "Metadata"),
    ("", "configmaps", "create", "Metadata"),
    ("apps", "deployments", "create", "Request"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "delete", "RequestResponse"),
    ("", "services", "create", "Metadata"),
])
def test_the_audit_policy_records_what_celgate_governs_and_never_secret_data(group, resource, verb, level):
    (policy,) = _documents(MANIFESTS / "audit" / "audit-policy.yaml")
    assert (policy["apiVersion"], policy["kind"]) == ("audit.k8s.io/v1", "Policy")
    assert _first_rule(policy, group, resource, verb)["level"] == level


def test_the_policy_report_crds_serve_v1alpha2_and_name_their_source():
    for name in ("policyreports", "clusterpolicyreports"):
        path = MANIFESTS / "policy-reports" / f"wgpolicyk8s.io_{name}.yaml"
        assert "kubernetes-sigs/wg-policy-prototypes" in path.read_text().split("\n---")[0]
        (crd,) = _documents(path)
        served = {v["name"] for v in crd["spec"]["versions"] if v["served"]}
        assert "v1alpha2" in served
    assert (MANIFESTS / "policy-reports" / "LICENSE.wg-policy-prototypes").is_file()
