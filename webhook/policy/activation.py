"""The CEL variables of a policy evaluation: object, oldObject, request, params, namespaceObject.

Built like k8s.io/apiserver/pkg/admission/plugin/cel/activation.go (v1.35): ``request`` is
CreateAdmissionRequest marshalled as JSON, ``namespaceObject`` is CreateNamespaceObject (only
metadata fields upstream copies, plus spec and status), ``params`` is null without a param.
"""

from __future__ import annotations

from typing import Any

from webhook.policy.attributes import AdmissionAttributes, GroupVersionKind, GroupVersionResource

# CreateNamespaceObject keeps exactly these metadata fields.
_NAMESPACE_METADATA = (
    "name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "finalizers",
)


def admission_request(
    attributes: AdmissionAttributes, resource: GroupVersionResource, kind: GroupVersionKind
) -> dict[str, Any]:
    """CreateAdmissionRequest: kind/resource are what matched (maybe an equivalent);
    requestKind/requestResource what the request used. No uid, object or oldObject."""
    request: dict[str, Any] = {
        "uid": "",
        "kind": kind.to_dict(),
        "resource": resource.to_dict(),
        "requestKind": attributes.kind.to_dict(),
        "requestResource": attributes.resource.to_dict(),
        "operation": attributes.operation,
        "userInfo": attributes.user_info.to_dict(),
        "object": None,
        "oldObject": None,
        "dryRun": attributes.dry_run,
        "options": attributes.options,
    }
    if attributes.sub_resource:
        request["subResource"] = attributes.sub_resource
        request["requestSubResource"] = attributes.sub_resource
    if attributes.name:
        request["name"] = attributes.name
    if attributes.namespace:
        request["namespace"] = attributes.namespace
    return request


def namespace_object(namespace: dict[str, Any] | None) -> dict[str, Any] | None:
    """CreateNamespaceObject: what a policy may see of the request's namespace."""
    if namespace is None:
        return None
    metadata = namespace.get("metadata") if isinstance(namespace.get("metadata"), dict) else {}
    kept = {key: metadata[key] for key in _NAMESPACE_METADATA if key in metadata}
    kept.setdefault("creationTimestamp", None)  # a zero metav1.Time marshals as null
    return {"metadata": kept, "spec": namespace.get("spec") or {}, "status": namespace.get("status") or {}}


def request_namespace(attributes: AdmissionAttributes) -> str:
    """The namespace whose object policies see; a Namespace request carries its own name as
    namespace, which upstream deliberately does not treat as its namespace."""
    kind = attributes.kind
    if kind.group == "" and kind.version == "v1" and kind.kind == "Namespace":
        return ""
    return attributes.namespace
