"""celgate scan over files and over a fake API server: CREATE semantics through ``decide``,
the resources a policy set selects, paging, violations per policy/namespace/action, and one
PolicyReport per namespace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from webhook.documents import read_documents
from webhook.kube_rest import Reply
from webhook.policy.loader import load_policy_set
from webhook.scan import ScanTarget, scan_cluster, scan_documents, scan_reports, scan_targets, violations

REPO = Path(__file__).resolve().parent.parent
POLICIES = load_policy_set([REPO / "policies"])
BASELINE = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"}


def _pod(name: str, namespace: str, privileged: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"}, "spec": {"containers": [container]}}


SERVED = [
    ScanTarget("", "v1", "pods", "Pod", True), ScanTarget("", "v1", "services", "Service", True),
    ScanTarget("apps", "v1", "deployments", "Deployment", True), ScanTarget("", "v1", "namespaces", "Namespace", False),
    ScanTarget("", "v1", "configmaps", "ConfigMap", True),
]


def test_the_shipped_policies_select_pods_and_workloads_only():
    assert {t.label for t in scan_targets(POLICIES, SERVED)} == {"pods", "deployments.apps"}


class FakeAPI:
    """Discovery, namespaces and pods, with pods served two per page."""

    def __init__(self, pods: list[dict[str, Any]], namespaces: dict[str, dict[str, str]],
                 exemptions: dict[str, str] | None = None) -> None:
        self.pods = pods
        self.namespaces = namespaces
        self.exemptions = exemptions  # the cluster's pod-security-exemptions ConfigMap, if any
        self.requests: list[str] = []

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(f"{path}?{kwargs.get('query')}")
        if path == "/apis":
            return {"groups": [{"name": "apps", "preferredVersion": {"groupVersion": "apps/v1"}, "versions": [{"groupVersion": "apps/v1"}]}]}
        if path == "/api/v1/namespaces":
            return {"items": [{"metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n, **labels}}}
                              for n, labels in self.namespaces.items()], "metadata": {}}
        if path == "/api/v1/pods":
            start = int((kwargs.get("query") or {}).get("continue") or 0)
            page = self.pods[start:start + 2]
            token = str(start + 2) if start + 2 < len(self.pods) else ""
            return {"items": [dict(p) for p in page], "metadata": {"continue": token}}
        if path == "/apis/apps/v1/deployments":
            return {"items": [], "metadata": {}}
        if path == "/api/v1/namespaces/celgate-system/configmaps":
            items = [] if self.exemptions is None else [{"metadata": {"name": "pod-security-exemptions", "namespace": "celgate-system"},
                                                         "data": self.exemptions}]
            return {"items": items, "metadata": {}}
        raise AssertionError(path)

    def get(self, path: str) -> dict[str, Any] | None:
        if path == "/api/v1":
            return {"resources": [{"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["list"]},
                                  {"name": "pods/status", "kind": "Pod", "namespaced": True, "verbs": ["get"]},
                                  {"name": "namespaces", "kind": "Namespace", "namespaced": False, "verbs": ["list"]},
                                  {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["list"]}]}
        if path == "/apis/apps/v1":
            return {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": True, "verbs": ["list"]}]}
        return None

    def list_pages(self, path: str, page_size: int = 500):
        from webhook.kube_rest import KubeREST

        return KubeREST.list_pages(self, path, page_size)  # type: ignore[arg-type]


def test_a_privileged_pod_that_predates_the_label_is_a_violation_found_page_by_page():
    pods = [_pod("old-privileged", "team-a", privileged=True), _pod("fine", "team-a"), _pod("elsewhere", "team-b", privileged=True)]
    api = FakeAPI(pods, {"team-a": BASELINE, "team-b": {}})
    scan = scan_cluster(api, POLICIES)  # type: ignore[arg-type]
    assert scan.objects_by_resource == {"pods": 3}
    assert sum("continue" in r and "'continue': '2'" in r for r in api.requests) == 1  # the second page was asked for
    found = violations(scan)
    assert found[("pss-enforce", "team-a", "deny")] == 1
    assert found[("pss-warn", "team-a", "warn")] == 2  # warn is restricted: the plain Pod fails it too
    assert not any(ns == "team-b" for _, ns, _ in found)  # no Pod Security label: no binding selects it
    (team_a,) = [r for r in scan_reports(scan) if r["metadata"]["namespace"] == "team-a"]
    (failing,) = [r for r in team_a["results"] if r["result"] == "fail"]
    assert (failing["policy"], failing["rule"], failing["properties"]["enforcementAction"]) == ("pss-enforce", "pss-enforce", "deny")
    assert failing["resources"][0]["name"] == "old-privileged" and failing["resources"][0]["uid"] == "uid-old-privileged"
    assert failing["message"] == ('violates PodSecurity "baseline:latest": '
                                  'privileged (container "app" must not set securityContext.privileged=true)')
    assert team_a["summary"]["pass"] > 0


def test_the_clusters_exemptions_replace_the_shipped_ones_and_only_their_namespace_is_listed():
    pods = [_pod("old-privileged", "team-a", privileged=True)]
    api = FakeAPI(pods, {"team-a": BASELINE}, exemptions={"namespaces": "sandbox\nteam-a"})
    scan = scan_cluster(api, POLICIES)  # type: ignore[arg-type]
    assert violations(scan) == {}  # an exempt namespace is admitted without evaluation, in every mode
    assert "/api/v1/namespaces/celgate-system/configmaps?{'limit': 500}" in api.requests
    assert not any(r.startswith("/api/v1/configmaps") for r in api.requests)  # not every ConfigMap in the cluster


def test_files_are_scanned_like_celgate_test_with_create_semantics():
    documents = read_documents(REPO / "examples" / "manifests" / "privileged-pod.yaml")
    scan = scan_documents(POLICIES, documents, namespace_labels={"default": BASELINE})
    assert ("pss-enforce", "default", "deny") in violations(scan)
    assert all(r.attributes.operation == "CREATE" for r in scan.results)


@pytest.mark.parametrize("output", ["text", "json", "sarif", "junit", "policyreport"])
def test_every_output_format_renders(output, capsys):
    from webhook.cli import main

    code = main(["scan", str(REPO / "examples" / "manifests" / "privileged-pod.yaml"), "--policies", str(REPO / "policies"),
                 "--namespace-labels", "default=pod-security.kubernetes.io/enforce=baseline", "-o", output])
    assert code == 1
    assert capsys.readouterr().out.strip()


def test_scan_needs_a_cluster_or_files(capsys):
    from webhook.cli import main

    assert main(["scan"]) == 2
    assert "one of the two" in capsys.readouterr().err


def test_reply_ok():
    assert Reply(201, {}).ok and not Reply(409, {"message": "conflict"}).ok
