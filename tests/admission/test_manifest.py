"""A manifest becomes the admission request kube-apiserver would build for it."""

from __future__ import annotations

import pytest

from webhook.admission.manifest import (
    ManifestError,
    as_stored,
    attributes_for_manifest,
    object_key,
    request_namespace,
    user_info,
)
from webhook.policy.attributes import GroupVersionKind, GroupVersionResource


def pod(namespace: str | None = None) -> dict:
    metadata = {"name": "web"} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": []}}


@pytest.mark.parametrize(
    ("obj", "namespace"),
    [
        (pod(), "default"),
        (pod("team-a"), "team-a"),
        ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}, "team-a"),
        ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}, ""),
        # A custom kind is namespaced exactly when the manifest says so (no discovery offline).
        ({"apiVersion": "limits.example.com/v1", "kind": "ContainerLimit", "metadata": {"name": "l"}}, ""),
        ({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "x"}}, "x"),
    ],
)
def test_request_namespace_follows_the_resource_scope(obj: dict, namespace: str) -> None:
    assert request_namespace(obj) == namespace


def test_stored_object_gets_the_default_namespace_filled_in() -> None:
    manifest = pod()
    assert as_stored(manifest)["metadata"]["namespace"] == "default"
    assert "namespace" not in manifest["metadata"], "the input must not be modified"


def test_cluster_scoped_object_loses_a_stray_namespace() -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "x"}}
    assert "namespace" not in as_stored(role)["metadata"]


def test_namespace_is_labelled_with_its_own_name() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "prod"}}}
    assert as_stored(namespace)["metadata"]["labels"] == {"env": "prod", "kubernetes.io/metadata.name": "team-a"}


def test_create_attributes_carry_kind_resource_and_object() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"}}
    attributes = attributes_for_manifest(deployment)
    assert attributes.kind == GroupVersionKind("apps", "v1", "Deployment")
    assert attributes.resource == GroupVersionResource("apps", "v1", "deployments")
    assert (attributes.operation, attributes.namespace, attributes.name) == ("CREATE", "shop", "api")
    assert attributes.object == deployment
    assert attributes.old_object is None


def test_delete_passes_the_manifest_as_the_old_object() -> None:
    attributes = attributes_for_manifest(pod(), operation="DELETE")
    assert attributes.object is None
    assert attributes.old_object is not None and attributes.old_object["metadata"]["name"] == "web"


def test_update_needs_the_old_object() -> None:
    with pytest.raises(ManifestError, match=r"UPDATE of Pod default/web \(v1\) needs the old object"):
        attributes_for_manifest(pod(), operation="UPDATE")
    old = pod()
    old["metadata"]["labels"] = {"v": "1"}
    attributes = attributes_for_manifest(pod(), operation="UPDATE", old_object=old)
    assert attributes.old_object is not None and attributes.old_object["metadata"]["labels"] == {"v": "1"}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "Pod", "metadata": {"name": "x"}}, "object has no apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "object has no kind"),
        ({"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "x"}}, "no kind 'Gadget' in built-in API group"),
        ({"apiVersion": "v1", "kind": "Pod", "metadata": ["x"]}, "metadata must be a mapping"),
    ],
)
def test_malformed_manifests_are_rejected_with_the_reason(obj: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        attributes_for_manifest(obj)


def test_old_objects_are_keyed_by_type_namespace_and_name() -> None:
    assert object_key(pod()) == object_key(pod("default"))
    assert object_key(pod()) != object_key(pod("other"))


def test_a_named_user_is_authenticated() -> None:
    assert user_info("alice", ("dev",)).groups == ("dev", "system:authenticated")
    assert user_info().groups == ()


@pytest.mark.parametrize("labels", [["a", "b"], {"tier": 3}, "web"])
def test_labels_that_are_not_string_maps_are_rejected(labels: object) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "odd", "labels": labels}}
    with pytest.raises(ManifestError, match="metadata.labels must be a mapping of strings to strings"):
        as_stored(namespace)
