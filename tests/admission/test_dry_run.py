"""The dry run's cluster and request pairing: what `celgate test` evaluates against."""

from __future__ import annotations

import pytest

from webhook.admission.dry_run import (
    DryRunError,
    DryRunRequest,
    attributes_for_documents,
    cluster_for,
    forbidden_message,
    split_policy_documents,
)
from webhook.admission.manifest import attributes_for_manifest
from webhook.documents import Document


def document(obj: dict, index: int = 0) -> Document:
    return Document("inputs.yaml", index, 1 + 10 * index, obj)


def pod(name: str, namespace: str | None = None, **labels: str) -> dict:
    metadata: dict = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": []}}


NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"tier": "web"}}}
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits", "namespace": "shop"}}


def test_an_unknown_namespace_is_synthesized_with_only_its_name_label() -> None:
    cluster = cluster_for([document(pod("web", "team-a")), document(pod("api"), 1)])
    assert cluster.get_namespace("team-a") == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
    }
    assert cluster.get_namespace("default") is not None


def test_namespace_inputs_and_label_flags_merge() -> None:
    cluster = cluster_for([document(NAMESPACE)], namespace_labels={"shop": {"env": "prod"}, "new": {"a": "b"}})
    assert cluster.get_namespace("shop")["metadata"]["labels"] == {
        "tier": "web", "kubernetes.io/metadata.name": "shop", "env": "prod"
    }
    assert cluster.get_namespace("new")["metadata"]["labels"] == {"kubernetes.io/metadata.name": "new", "a": "b"}


def test_only_inputs_of_a_param_kind_are_params() -> None:
    inputs = [document(CONFIG_MAP), document(pod("web", "shop"), 1)]
    assert cluster_for(inputs).list_params("v1", "ConfigMap", "shop") == []
    cluster = cluster_for(inputs, param_kinds={("v1", "ConfigMap")}, params=[pod("extra", "shop")])
    assert [p["metadata"]["name"] for p in cluster.list_params("v1", "ConfigMap", "shop")] == ["limits"]
    assert [p["metadata"]["name"] for p in cluster.list_params("v1", "Pod", "shop")] == ["extra"]


def test_policies_are_split_from_objects() -> None:
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "p"}}
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "w"}}
    policies, objects = split_policy_documents([document(policy), document(webhook, 1), document(pod("web"), 2)])
    assert [d.obj["kind"] for d in policies] == ["ValidatingAdmissionPolicy"]
    assert [d.obj["kind"] for d in objects] == ["ValidatingWebhookConfiguration", "Pod"]


def test_update_pairs_each_input_with_its_old_object() -> None:
    request = DryRunRequest(operation="UPDATE", old_objects=(document(pod("web", v="1")), document(pod("api", v="2"), 1)))
    pairs = attributes_for_documents([document(pod("api", "default", v="3"))], request)
    [(_, attributes)] = pairs
    assert attributes.old_object["metadata"]["labels"] == {"v": "2"}


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (DryRunRequest(operation="UPDATE"), "inputs.yaml#0 (line 1): UPDATE of Pod default/web (v1) needs the old object"),
        (DryRunRequest(old_objects=(document(pod("web")),)), "only used with --operation UPDATE, not CREATE"),
        (
            DryRunRequest(operation="UPDATE", old_objects=(document(pod("web")), document(pod("web", "default"), 1))),
            "a second old object for Pod default/web (v1)",
        ),
    ],
)
def test_unpairable_requests_are_errors(request_: DryRunRequest, error: str) -> None:
    with pytest.raises(DryRunError) as raised:
        attributes_for_documents([document(pod("web"))], request_)
    assert error in str(raised.value)


@pytest.mark.parametrize(
    ("obj", "prefix"),
    [
        (pod("web"), 'pods "web" is forbidden: '),
        ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}}, 'deployments.apps "api" is forbidden: '),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "job-"}}, 'pods "job-" is forbidden: '),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": {}}, 'pods "Unknown" is forbidden: '),
    ],
)
def test_denials_are_wrapped_as_the_apiserver_wraps_them(obj: dict, prefix: str) -> None:
    assert forbidden_message(attributes_for_manifest(obj), "denied") == prefix + "denied"


def test_processes_sharing_a_large_input_decide_as_one_process_does() -> None:
    from webhook.admission.dry_run import admit_documents
    from webhook.policy.loader import load_policy_set
    from pathlib import Path

    policies = load_policy_set([str(Path(__file__).resolve().parents[2] / "policies" / "pod-security")])
    pods = []
    for index in range(450):
        spec: dict = {"containers": [{"name": "app", "image": "nginx"}]}
        if index % 3 == 0:
            spec["containers"][0]["securityContext"] = {"privileged": True}
        pods.append(document({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{index}", "namespace": "strict"},
                              "spec": spec}, index))
    cluster = cluster_for(pods, namespace_labels={"strict": {"pod-security.kubernetes.io/enforce": "baseline"}})
    serial = admit_documents(policies, pods, cluster, jobs=1)
    shared = admit_documents(policies, pods, cluster, jobs=2)
    assert [r.document.obj["metadata"]["name"] for r in shared] == [f"p{i}" for i in range(450)]
    assert [(r.decision.allowed, r.status) for r in shared] == [(r.decision.allowed, r.status) for r in serial]
    assert sum(not r.decision.allowed for r in shared) == 150
