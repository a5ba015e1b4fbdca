"""Finding the param objects a binding evaluates its policy with.

generic/policy_dispatcher.go CollectParams (v1.35): no paramKind or no paramRef means one
evaluation with ``params`` null; a name selects one object, a selector any number (one
evaluation each); none found is allowed unless parameterNotFoundAction is Deny.
"""

from __future__ import annotations

from typing import Any

from webhook.policy.cluster_data import ClusterData
from webhook.policy.model import Binding, ParamKind, ParamRef, Policy
from webhook.policy.resources import UnknownKindError, is_builtin_group, resource_for


class ParamError(Exception):
    """The binding's params cannot be resolved (a configuration error upstream)."""


def param_kind_error(param_kind: ParamKind) -> str | None:
    """The policy-level configuration error of a paramKind no resource serves, if any."""
    try:
        resource_for(param_kind.api_version, param_kind.kind)
    except UnknownKindError:
        group, _, version = param_kind.api_version.rpartition("/")
        # generic/policy_source.go: '%v' of a schema.GroupVersionKind
        return f"failed to find resource referenced by paramKind: '{group}/{version}, Kind={param_kind.kind}'"
    return None


def collect_params(policy: Policy, binding: Binding, namespace: str, cluster: ClusterData) -> list[dict[str, Any] | None]:
    param_kind, ref = policy.param_kind, binding.param_ref
    if param_kind is None or ref is None:
        return [None]
    params = _find(param_kind, ref, namespace, cluster)
    if not params and ref.parameter_not_found_action == "Deny":
        raise ParamError("no params found for policy binding with `Deny` parameterNotFoundAction")
    # An informer lists in no particular order; name order keeps results reproducible.
    return sorted(params, key=lambda p: (_metadata(p).get("namespace") or "", _metadata(p).get("name") or ""))


def _find(param_kind: ParamKind, ref: ParamRef, namespace: str, cluster: ClusterData) -> list[dict[str, Any]]:
    namespaced = _namespaced(param_kind, cluster)
    if namespaced is None:
        return []  # a custom kind with no objects at all: nothing to find in either scope
    lookup_namespace: str | None = None
    if namespaced:
        lookup_namespace = ref.namespace or namespace
        if not lookup_namespace:
            raise ParamError("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources")
    elif ref.namespace:
        raise ParamError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
    candidates = cluster.list_params(param_kind.api_version, param_kind.kind, lookup_namespace)
    if ref.name:
        return [p for p in candidates if _metadata(p).get("name") == ref.name][:1]
    selector = ref.selector
    return [p for p in candidates if selector is None or selector.matches(_metadata(p).get("labels"))]


def _namespaced(param_kind: ParamKind, cluster: ClusterData) -> bool | None:
    """The param kind's scope: from the REST mapping for built-in kinds; for a custom kind,
    from its objects (None when there are none, so nothing is found either way)."""
    _, namespaced = resource_for(param_kind.api_version, param_kind.kind)
    if is_builtin_group(param_kind.api_version):
        return namespaced
    objects = cluster.list_params(param_kind.api_version, param_kind.kind, None)
    if not objects:
        return None
    return any(_metadata(p).get("namespace") for p in objects)


def param_label(param: dict[str, Any] | None) -> str | None:
    """``namespace/name`` (or ``name``) of a param, for reports."""
    if param is None:
        return None
    metadata = _metadata(param)
    name = metadata.get("name") or ""
    return f"{metadata['namespace']}/{name}" if metadata.get("namespace") else name


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}
