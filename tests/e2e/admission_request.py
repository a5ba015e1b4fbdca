"""Sending objects through a real API server's admission chain and reading what came back.

The typed kubernetes client drops the ``Warning`` response headers, which is where Warn-mode
policies (native and webhook) surface, so creates go through its REST layer directly: same
kubeconfig, same TLS and auth, raw status, body and headers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s

# RFC 7234 warn-value as the apiserver writes it: 299 - "text" (text with \" and \\ escaped).
_WARNING = re.compile(r'(\d{3}) (\S+) "((?:[^"\\]|\\.)*)"')

# Where each kind the suite creates is served (the apiserver's REST paths).
_RESOURCES = {
    ("v1", "Pod"): "pods",
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "PodTemplate"): "podtemplates",
    ("v1", "ReplicationController"): "replicationcontrollers",
    ("apps/v1", "Deployment"): "deployments",
    ("apps/v1", "ReplicaSet"): "replicasets",
    ("apps/v1", "StatefulSet"): "statefulsets",
    ("apps/v1", "DaemonSet"): "daemonsets",
    ("batch/v1", "Job"): "jobs",
    ("batch/v1", "CronJob"): "cronjobs",
    # The kinds the third-party collections' cases create (tests/fixtures/third_party/).
    ("v1", "Secret"): "secrets",
    ("v1", "Service"): "services",
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "Endpoints"): "endpoints",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("rbac.authorization.k8s.io/v1", "Role"): "roles",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rolebindings",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "clusterroles",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "clusterrolebindings",
    ("networking.k8s.io/v1", "Ingress"): "ingresses",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("coordination.k8s.io/v1", "Lease"): "leases",
    ("discovery.k8s.io/v1", "EndpointSlice"): "endpointslices",
    ("storage.k8s.io/v1", "CSIStorageCapacity"): "csistoragecapacities",
}


@dataclass(frozen=True)
class AdmissionOutcome:
    """What the client saw: HTTP status, the Status body on failure, and Warning headers."""

    status: int
    body: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())
    # The Audit-Id response header: finds this request's audit event when two requests create
    # the same object (same namespace and name).
    audit_id: str = ""

    @property
    def allowed(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return "" if self.allowed else str(self.body.get("message", ""))

    @property
    def reason(self) -> str:
        return "" if self.allowed else str(self.body.get("reason", ""))


def parse_warnings(values: list[str]) -> tuple[str, ...]:
    texts: list[str] = []
    for value in values:
        for _code, _agent, text in _WARNING.findall(value):
            texts.append(re.sub(r"\\(.)", r"\1", text))
    return tuple(texts)


def collection_path(obj: dict[str, Any], namespace: str | None) -> str:
    api_version, kind = obj["apiVersion"], obj["kind"]
    try:
        resource = _RESOURCES[(api_version, kind)]
    except KeyError:
        raise ValueError(f"the e2e suite does not know where {api_version} {kind} is served") from None
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{resource}" if namespace else f"{prefix}/{resource}"


class Kube:
    """Raw JSON requests to the API server of a kubernetes ApiClient."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api

    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str = "application/json", timeout: float = 30) -> AdmissionOutcome:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        for setting in self.api.configuration.auth_settings().values():  # bearer tokens, if any
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        # The pool manager directly: the REST client would JSON-encode a serialized body again.
        response = self.api.rest_client.pool_manager.request(
            method, self.api.configuration.host + path, headers=headers,
            body=None if body is None else json.dumps(body).encode(), timeout=timeout,
        )
        raw = response.data
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"message": raw.decode(errors="replace")}
        return AdmissionOutcome(
            status=response.status,
            body=parsed if isinstance(parsed, dict) else {"items": parsed},
            warnings=parse_warnings(response.headers.getlist("Warning")),
            audit_id=response.headers.get("Audit-Id", ""),
        )

    def create(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = False) -> AdmissionOutcome:
        namespace = namespace or obj.get("metadata", {}).get("namespace")
        path = collection_path(obj, namespace)
        return self.request("POST", path + ("?dryRun=All" if dry_run else ""), obj)

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """A request that has to succeed (setup and teardown)."""
        outcome = self.request(method, path, body, **kwargs)
        if not outcome.allowed:
            raise AssertionError(f"{method} {path} failed: HTTP {outcome.status}: {outcome.body}")
        return outcome.body

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a cluster object by server-side apply (field manager celgate-e2e)."""
        api_version, kind, name = obj["apiVersion"], obj["kind"], obj["metadata"]["name"]
        namespace = obj["metadata"].get("namespace")
        path = f"{_plural_path(api_version, kind, namespace)}/{name}?fieldManager=celgate-e2e&force=true"
        return self.must("PATCH", path, obj, content_type="application/apply-patch+yaml")

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        outcome = self.request("DELETE", f"{_plural_path(api_version, kind, namespace)}/{name}")
        if not outcome.allowed and outcome.status != 404:
            raise AssertionError(f"DELETE {kind} {name} failed: HTTP {outcome.status}: {outcome.body}")


_CLUSTER_RESOURCES = {
    ("v1", "Namespace"): "namespaces",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): "validatingadmissionpolicies",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): "validatingadmissionpolicybindings",
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"): "validatingwebhookconfigurations",
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): "customresourcedefinitions",
}


def _plural_path(api_version: str, kind: str, namespace: str | None) -> str:
    resource = _CLUSTER_RESOURCES.get((api_version, kind))
    if resource is not None:
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        return f"{prefix}/{resource}"
    return collection_path({"apiVersion": api_version, "kind": kind}, namespace)
