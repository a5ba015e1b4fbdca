"""What policy evaluation reads from the cluster: namespaces and param objects.

The decision code only sees this protocol. The CLI and a webhook without cluster access use
:class:`StaticClusterData` (:class:`OfflineClusterData` when a namespace nobody described should
still exist); a webhook with a cluster can implement it over informers.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol

# The apiserver labels every Namespace with its own name (NamespaceDefaultLabelName, 1.21+).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class ClusterData(Protocol):
    def get_namespace(self, name: str) -> dict | None: ...

    def list_params(self, api_version: str, kind: str, namespace: str | None) -> list[dict]:
        """Objects of that apiVersion/kind; ``namespace`` None means all namespaces (or the
        cluster-scoped objects)."""
        ...


class StaticClusterData:
    """ClusterData over objects held in memory."""

    def __init__(self, namespaces: Iterable[dict] = (), params: Iterable[dict] = ()) -> None:
        self._namespaces: dict[str, dict] = {}
        self._params: list[dict] = []
        for namespace in namespaces:
            self.add_namespace(namespace)
        for param in params:
            self.add_param(param)

    def add_namespace(self, obj: dict) -> None:
        name = _metadata(obj).get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a Namespace object needs metadata.name")
        self._namespaces[name] = obj

    def add_param(self, obj: dict) -> None:
        if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
            raise ValueError("a param object needs apiVersion and kind")
        name = _metadata(obj).get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"a param object of kind {obj['kind']} needs metadata.name")
        # A later object with the same identity replaces the earlier one (like a re-apply).
        key = _identity(obj)
        self._params = [p for p in self._params if _identity(p) != key]
        self._params.append(obj)

    def get_namespace(self, name: str) -> dict | None:
        return self._namespaces.get(name)

    def list_params(self, api_version: str, kind: str, namespace: str | None) -> list[dict]:
        # The API server serves an object in every version of its group, so only the group
        # and kind have to agree.
        group = _group(api_version)
        return [
            p
            for p in self._params
            if _group(p["apiVersion"]) == group
            and p["kind"] == kind
            and (namespace is None or (_metadata(p).get("namespace") or "") == namespace)
        ]


class OfflineClusterData(StaticClusterData):
    """Cluster data without a cluster: a namespace nobody described exists with only its name
    label, as the apiserver would have created it (celgate test, and celgate serve without a
    kubeconfig)."""

    def get_namespace(self, name: str) -> dict | None:
        return super().get_namespace(name) or namespace_object(name)


class WithShippedParams:
    """A cluster in which the param objects shipped beside the policies exist too.

    A policy directory may carry default params (``policies/pod-security/exemptions.yaml``); an
    object of the same kind, namespace and name in ``cluster`` replaces its shipped copy.
    """

    def __init__(self, cluster: ClusterData, shipped: Iterable[dict]) -> None:
        self._cluster = cluster
        self._shipped = StaticClusterData(params=shipped)

    def get_namespace(self, name: str) -> dict | None:
        return self._cluster.get_namespace(name)

    def list_params(self, api_version: str, kind: str, namespace: str | None) -> list[dict]:
        found = self._cluster.list_params(api_version, kind, namespace)
        present = {_identity(p) for p in found}
        return found + [p for p in self._shipped.list_params(api_version, kind, namespace) if _identity(p) not in present]


def namespace_object(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Namespace as the apiserver stores it: always labelled with its own name."""
    all_labels = {NAMESPACE_NAME_LABEL: name, **(labels or {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": all_labels}}


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _metadata(obj: dict) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _identity(obj: dict) -> tuple[str, str, str, str]:
    metadata = _metadata(obj)
    return (obj["apiVersion"], obj["kind"], metadata.get("namespace") or "", metadata.get("name") or "")
