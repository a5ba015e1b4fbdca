"""Registering celgate with an API server, and loading the same policies natively beside it.

Namespaces created by the suite carry ``celgate.e2e/mode``: ``webhook`` namespaces are sent to
celgate (and only to it), ``native`` ones are judged by the API server's own
ValidatingAdmissionPolicy plugin (and never by celgate). The two never see each other's
requests, so each keeps its Deny semantics: a native denial would otherwise stop the chain
before the webhook is called.
"""

from __future__ import annotations

import copy
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from admission_request import AdmissionOutcome, Kube

REPO = Path(__file__).resolve().parents[2]
SHIPPED_WEBHOOK = REPO / "manifests" / "validating-webhook.yaml"
MODE_LABEL = "celgate.e2e/mode"
SUITE_LABEL = "celgate.e2e/suite"
E2E_WEBHOOK_CONFIG = "celgate-e2e"
ADMISSION_GROUP = "admissionregistration.k8s.io/v1"


class RegistrationTimeout(AssertionError):
    """The API server did not start using a webhook or policy within the deadline."""


def webhook_configuration(client_config: dict[str, Any], *, name: str = E2E_WEBHOOK_CONFIG,
                          failure_policy: str = "Fail", mode: str = "webhook") -> dict[str, Any]:
    """The shipped ValidatingWebhookConfiguration, pointed at ``client_config`` and narrowed to
    the suite's namespaces of ``mode`` (the shipped kube-system/celgate-system exclusion stays)."""
    config = copy.deepcopy(yaml.safe_load(SHIPPED_WEBHOOK.read_text()))
    config["metadata"] = {"name": name, "labels": {SUITE_LABEL: "true"}}
    for hook in config["webhooks"]:
        hook["clientConfig"] = client_config
        hook["failurePolicy"] = failure_policy
        hook["namespaceSelector"].setdefault("matchExpressions", []).append(
            {"key": MODE_LABEL, "operator": "In", "values": [mode]}
        )
    return config


def nativize(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same policies and bindings, each binding narrowed to ``native`` namespaces."""
    out = []
    for document in documents:
        document = copy.deepcopy(document)
        document.setdefault("metadata", {}).setdefault("labels", {})[SUITE_LABEL] = "true"
        if document.get("kind") == "ValidatingAdmissionPolicyBinding":
            match = document["spec"].setdefault("matchResources", {})
            selector = match.setdefault("namespaceSelector", {})
            selector.setdefault("matchExpressions", []).append(
                {"key": MODE_LABEL, "operator": "In", "values": ["native"]}
            )
        out.append(document)
    return out


def read_policy_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in paths:
        files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            documents += [d for d in yaml.safe_load_all(file.read_text()) if d]
    # ConfigMaps beside the policies are their params (policies/pod-security/exemptions.yaml).
    return [d for d in documents if d.get("kind") in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ConfigMap")]


def wait_until(probe: Callable[[], AdmissionOutcome], accept: Callable[[AdmissionOutcome], bool], what: str,
               timeout: float = 30) -> AdmissionOutcome:
    """Poll ``probe`` until ``accept`` holds: policy and webhook changes reach the API server
    asynchronously (about a second)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if accept(last):
            return last
        time.sleep(0.2)
    raise RegistrationTimeout(f"{what}: not in effect after {timeout:.0f} s (last: HTTP {last.status} {last.body})")


SENTINEL_EXPRESSION = "object.metadata.name != 'celgate-e2e-sentinel'"


def install_native(kube: Kube, documents: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Create ``documents`` (already nativized) as real API objects and wait until the API server
    enforces all of them. ``namespace`` is a native-mode namespace no other policy selects, for
    the probe.

    A sentinel policy and binding are created last: the policy and binding informers deliver
    events in order, so once the sentinel denies, every earlier object has been seen."""
    token = uuid.uuid4().hex[:6]
    sentinel = [
        {"apiVersion": ADMISSION_GROUP, "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": f"celgate-e2e-sentinel-{token}", "labels": {SUITE_LABEL: "true"}},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                          "operations": ["CREATE"], "resources": ["pods"]}]},
                  "validations": [{"expression": SENTINEL_EXPRESSION, "message": "sentinel"}]}},
        {"apiVersion": ADMISSION_GROUP, "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": f"celgate-e2e-sentinel-{token}", "labels": {SUITE_LABEL: "true"}},
         "spec": {"policyName": f"celgate-e2e-sentinel-{token}", "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}},
    ]
    params = [d for d in documents if d["kind"] == "ConfigMap"]
    for namespace_name in sorted({d["metadata"]["namespace"] for d in params if d["metadata"].get("namespace")}):
        kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_name}})
    # Params stay installed (uninstall leaves them): deleting and re-creating one races the
    # apiserver's param informer, which the sentinel below does not wait for.
    for document in params:
        kube.apply(document)
    ordered = [d for d in documents if d["kind"] == "ValidatingAdmissionPolicy"]
    ordered += [d for d in documents if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    for document in ordered + sentinel:
        kube.apply(document)
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "celgate-e2e-sentinel"},
             "spec": {"containers": [{"name": "c", "image": "celgate.invalid/noop:0"}]}}
    wait_until(lambda: kube.create(probe, namespace, dry_run=True),
               lambda outcome: f"'celgate-e2e-sentinel-{token}'" in outcome.message,
               "native policies")
    return ordered + sentinel


def uninstall(kube: Kube, documents: list[dict[str, Any]]) -> None:
    for document in reversed(documents):
        kube.delete(document["apiVersion"], document["kind"], document["metadata"]["name"],
                    document["metadata"].get("namespace"))
