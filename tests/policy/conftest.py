"""Shared builders for the policy tests: fixture paths and admission requests for objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from webhook.policy.attributes import AdmissionAttributes, GroupVersionKind, UserInfo
from webhook.policy.resources import resource_for, split_api_version

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "policy"


def request_for(
    obj: dict[str, Any], operation: str = "CREATE", *, old: dict[str, Any] | None = None,
    user: str = "alice", sub_resource: str = "",
) -> AdmissionAttributes:
    """The attributes kube-apiserver builds for writing ``obj``."""
    group, version = split_api_version(obj["apiVersion"])
    resource, _ = resource_for(obj["apiVersion"], obj["kind"])
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace", "")
    if obj["kind"] == "Namespace" and group == "":
        namespace = metadata["name"]  # a Namespace request carries its own name as namespace
    return AdmissionAttributes(
        uid="test-uid",
        kind=GroupVersionKind(group, version, obj["kind"]),
        resource=resource,
        operation=operation,  # type: ignore[arg-type]
        name=metadata.get("name", ""),
        namespace=namespace,
        sub_resource=sub_resource,
        user_info=UserInfo(username=user, groups=("system:authenticated",)),
        object=None if operation == "DELETE" else obj,
        old_object=old,
    )


def configmap(name: str, namespace: str = "default", data: dict | None = None, labels: dict | None = None) -> dict:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data or {}}


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(name="request_for")
def request_for_fixture():
    return request_for


@pytest.fixture(name="configmap")
def configmap_fixture():
    return configmap


@pytest.fixture(name="namespace")
def namespace_fixture():
    return namespace
