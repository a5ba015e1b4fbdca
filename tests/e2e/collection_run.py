"""Running policy collections (tests/third_party/policy_collections.py) in the e2e API server,
natively and through celgate, side by side.

Collections create objects of any kind, cluster-scoped ones too, and in the namespaces their
libraries name (``default`` among them), so the two modes cannot be kept apart by namespace as
registration.py does for the rest of the suite. Here the object says which side judges it: each
case is created twice, labelled ``celgate.e2e/mode: native`` and ``celgate.e2e/mode: webhook``.
Native bindings select the first (an objectSelector requirement added to each), and a second
webhook configuration sends every create and update of an object labelled with the second to a
celgate process that holds the collections' policies. Both sides see the same object apart from
that label value.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import yaml

from admission_request import Kube
from registration import MODE_LABEL, SUITE_LABEL, SHIPPED_WEBHOOK, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "third_party"))

from policy_collections import Collection, CollectionCase  # noqa: E402

COLLECTIONS_WEBHOOK_CONFIG = "celgate-e2e-collections"
PROBE_NAME = "celgate-e2e-collections-probe"


def labelled(case: CollectionCase, mode: str) -> dict[str, Any]:
    obj = copy.deepcopy(case.obj)
    obj["metadata"]["labels"][MODE_LABEL] = mode
    return obj


def _mode_requirement(document: dict[str, Any], mode: str) -> dict[str, Any]:
    document = copy.deepcopy(document)
    document.setdefault("metadata", {}).setdefault("labels", {})[SUITE_LABEL] = "true"
    if document["kind"] == "ValidatingAdmissionPolicyBinding":
        selector = document["spec"].setdefault("matchResources", {}).setdefault("objectSelector", {})
        selector.setdefault("matchExpressions", []).append({"key": MODE_LABEL, "operator": "In", "values": [mode]})
    return document


def native_documents(collections: Iterable[Collection]) -> list[dict[str, Any]]:
    """Every collection's policies and bindings, the bindings narrowed to native-mode objects."""
    return [_mode_requirement(d, "native") for c in collections for d in c.documents]


def probe_documents() -> list[dict[str, Any]]:
    """A policy only celgate holds, denying the probe ConfigMap: once it denies, the webhook is in use."""
    group = "admissionregistration.k8s.io/v1"
    return [
        {"apiVersion": group, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": PROBE_NAME},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                          "operations": ["CREATE"], "resources": ["configmaps"]}]},
                  "validations": [{"expression": f"object.metadata.name != '{PROBE_NAME}'", "message": "probe"}]}},
        {"apiVersion": group, "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": PROBE_NAME},
         "spec": {"policyName": PROBE_NAME, "validationActions": ["Deny"]}},
    ]


def write_policy_dir(directory: Path, collections: Iterable[Collection]) -> Path:
    """The files celgate serves: every collection's policies and scoped bindings, and the probe."""
    directory.mkdir(parents=True, exist_ok=True)
    for collection in collections:
        (directory / f"{collection.name}.yaml").write_text(yaml.safe_dump_all(collection.documents))
    (directory / "probe.yaml").write_text(yaml.safe_dump_all(probe_documents()))
    return directory


def webhook_configuration(client_config: dict[str, Any]) -> dict[str, Any]:
    """The shipped webhook's settings, for every resource, selecting webhook-mode objects."""
    shipped = yaml.safe_load(SHIPPED_WEBHOOK.read_text())["webhooks"][0]
    hook = {key: copy.deepcopy(shipped[key]) for key in
            ("name", "admissionReviewVersions", "sideEffects", "timeoutSeconds", "matchPolicy", "namespaceSelector")}
    hook.update(
        clientConfig=client_config, failurePolicy="Fail",
        objectSelector={"matchExpressions": [{"key": MODE_LABEL, "operator": "In", "values": ["webhook"]}]},
        rules=[{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                "resources": ["*"], "scope": "*"}],
    )
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": COLLECTIONS_WEBHOOK_CONFIG, "labels": {SUITE_LABEL: "true"}}, "webhooks": [hook]}


def wait_for_webhook(kube: Kube, prefix: str) -> None:
    probe = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": PROBE_NAME, "labels": {MODE_LABEL: "webhook"}}}
    wait_until(lambda: kube.create(probe, "default", dry_run=True),
               lambda outcome: outcome.message.startswith(prefix), "the collections webhook")


# --------------------------------------------------------------------------- prerequisites


def _custom_resource_paths(crds: Iterable[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, bool]]:
    paths = {}
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            paths[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = (
                spec["names"]["plural"], spec["scope"] == "Namespaced")
    return paths


def _apply_path(api_version: str, plural: str, namespace: str | None, name: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    where = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{where}/{plural}/{name}?fieldManager=celgate-e2e&force=true"


def install_prerequisites(kube: Kube, collections: list[Collection]) -> list[str]:
    """CRDs (until established), namespaces and params every collection needs; returns the
    paths to delete afterwards. Namespaces stay (they cannot finish terminating
    without a controller manager), and are reused by the next run."""
    crds = [crd for c in collections for crd in c.crds]
    for crd in crds:
        kube.apply(crd)
    for crd in crds:
        name = crd["metadata"]["name"]
        wait_until(lambda: kube.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
                   lambda outcome: any(c.get("type") == "Established" and c.get("status") == "True"
                                       for c in (outcome.body.get("status") or {}).get("conditions") or []),
                   f"CRD {name}")
    for namespace in (ns for c in collections for ns in c.namespaces):
        namespace = copy.deepcopy(namespace)
        namespace["metadata"].setdefault("labels", {})[SUITE_LABEL] = "true"
        kube.apply(namespace)
    paths = _custom_resource_paths(crds)
    created = []
    for param in (p for c in collections for p in c.params):
        plural, namespaced = paths[(param["apiVersion"], param["kind"])]
        namespace = param["metadata"].get("namespace", "default") if namespaced else None
        path = _apply_path(param["apiVersion"], plural, namespace, param["metadata"]["name"])
        # A CRD's first objects can be refused for a moment after it is established.
        wait_until(lambda: kube.request("PATCH", path, param, content_type="application/apply-patch+yaml"),
                   lambda outcome: outcome.allowed, f"param {param['metadata']['name']}", timeout=15)
        created.append(path.split("?", 1)[0])
    created += [f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}" for crd in crds]
    return created


def remove(kube: Kube, paths: list[str]) -> None:
    for path in paths:
        kube.request("DELETE", path)


def settle(seconds: float = 1.0) -> None:
    """Params and namespaces reach both informers (the API server's and celgate's)."""
    time.sleep(seconds)
