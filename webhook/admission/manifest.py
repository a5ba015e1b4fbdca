"""A manifest as an admission request: the CLI's way into the one evaluation path.

``celgate test`` has YAML, not an AdmissionReview. This module turns a manifest (plus the
operation, the old object and the user the command line names) into the
``AdmissionAttributes`` kube-apiserver would hand its validating admission plugins, so the
dry run and the webhook decide on exactly the same data.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from webhook.admission.defaulting import apply_pod_defaults
from webhook.policy.attributes import (
    AdmissionAttributes,
    GroupVersionKind,
    GroupVersionResource,
    Operation,
    UserInfo,
)
from webhook.policy.cluster_data import NAMESPACE_NAME_LABEL
from webhook.policy.resources import UnknownKindError, kind_for, resource_for

# An object that names no namespace is created in the one kubectl and the apiserver default to.
DEFAULT_NAMESPACE = "default"
# Every authenticated user is in this group (the authenticator's AuthenticatedGroupAdder).
AUTHENTICATED_GROUP = "system:authenticated"

OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class ManifestError(ValueError):
    """A document cannot be turned into an admission request (no kind, no apiVersion, ...)."""


@dataclass(frozen=True)
class ObjectKey:
    """How an object is told apart from another: what ``--old`` objects are matched by."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where} ({self.api_version})"


def type_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    """The (apiVersion, kind) of a manifest, or a ManifestError saying which is missing."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    missing = [field for field, value in (("apiVersion", api_version), ("kind", kind)) if not value]
    if missing:
        raise ManifestError(f"object has no {' and no '.join(missing)} (every manifest needs apiVersion and kind)")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise ManifestError("apiVersion and kind must be strings")
    return api_version, kind


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ManifestError("metadata must be a mapping")
    # The apiserver would refuse to decode these; selectors and namespaceObject read them.
    for field in ("labels", "annotations"):
        value = metadata.get(field)
        if value is not None and not (
            isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())
        ):
            raise ManifestError(f"metadata.{field} must be a mapping of strings to strings")
    return metadata


def _is_namespace(obj: Mapping[str, Any]) -> bool:
    return obj.get("apiVersion") == "v1" and obj.get("kind") == "Namespace"


def resource_and_scope(obj: Mapping[str, Any]) -> tuple[GroupVersionResource, bool]:
    """The resource an object is served at and whether it is namespaced.

    Offline there is no discovery: a custom kind counts as namespaced exactly when the manifest
    names a namespace, so a cluster-scoped custom param object is not moved into ``default``.
    """
    api_version, kind = type_of(obj)
    try:
        resource, namespaced = resource_for(api_version, kind)
    except UnknownKindError as error:
        raise ManifestError(str(error)) from error
    if kind_for(resource) is None:
        namespaced = bool(_metadata(obj).get("namespace"))
    return resource, namespaced


def request_namespace(obj: Mapping[str, Any]) -> str:
    """The namespace the apiserver would admit this object in ("" when cluster-scoped)."""
    _, namespaced = resource_and_scope(obj)
    metadata = _metadata(obj)
    if _is_namespace(obj):
        # As the apiserver's request info does, a Namespace's namespace is its own name.
        return str(metadata.get("name") or "")
    if not namespaced:
        return ""
    return str(metadata.get("namespace") or DEFAULT_NAMESPACE)


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    api_version, kind = type_of(obj)
    return ObjectKey(api_version, kind, request_namespace(obj), str(_metadata(obj).get("name") or ""))


def _copy(value: Any) -> Any:
    """A copy of JSON-shaped data (several times faster than copy.deepcopy, which it falls back
    to for anything else); strings, numbers, booleans and null are shared, being immutable."""
    kind = type(value)
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    return copy.deepcopy(value)


def as_stored(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as validating admission sees it: defaulted (defaulting.py), and with its
    namespace filled in (or cleared) by scope.

    Validating admission runs after rest.BeforeCreate, which calls
    EnsureObjectNamespaceMatchesRequestNamespace (staging/src/k8s.io/apiserver/pkg/registry/rest/meta.go).
    """
    _, namespaced = resource_and_scope(obj)
    stored = _copy(dict(obj))
    apply_pod_defaults(stored)
    metadata = dict(_metadata(stored))
    if namespaced:
        metadata["namespace"] = request_namespace(obj)
    else:
        metadata.pop("namespace", None)
    if _is_namespace(obj) and metadata.get("name"):
        labels = dict(metadata.get("labels") or {})
        labels.setdefault(NAMESPACE_NAME_LABEL, metadata["name"])
        metadata["labels"] = labels
    stored["metadata"] = metadata
    return stored


def user_info(username: str = "", groups: tuple[str, ...] = ()) -> UserInfo:
    """The request's userInfo; a named user is authenticated, so it is in system:authenticated."""
    all_groups = tuple(dict.fromkeys(groups))
    if username and AUTHENTICATED_GROUP not in all_groups:
        all_groups += (AUTHENTICATED_GROUP,)
    return UserInfo(username=username, groups=all_groups)


def attributes_for_manifest(
    obj: Mapping[str, Any],
    *,
    operation: Operation = "CREATE",
    old_object: Mapping[str, Any] | None = None,
    user: UserInfo | None = None,
) -> AdmissionAttributes:
    """The admission request for applying ``obj`` with ``operation``.

    On DELETE the apiserver passes no object and the stored object as oldObject, so the manifest
    becomes ``old_object`` there. UPDATE needs ``old_object``; the caller pairs it.
    """
    if operation not in OPERATIONS:
        raise ManifestError(f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}")
    if operation == "UPDATE" and old_object is None:
        raise ManifestError(f"UPDATE of {object_key(obj)} needs the old object (--old)")
    resource, _ = resource_and_scope(obj)
    stored = as_stored(obj)
    old = as_stored(old_object) if old_object is not None else None
    if operation == "DELETE":
        stored, old = None, stored
    return AdmissionAttributes(
        uid=str(uuid.uuid4()),
        kind=GroupVersionKind(resource.group, resource.version, str(obj["kind"])),
        resource=resource,
        operation=operation,
        name=str(_metadata(obj).get("name") or ""),
        namespace=request_namespace(obj),
        user_info=user or UserInfo(),
        object=stored,
        old_object=old,
    )
