"""API-server defaulting that admission sees, applied to manifests checked offline."""

from __future__ import annotations

import pytest

from webhook.admission.defaulting import apply_pod_defaults
from webhook.admission.manifest import as_stored


def test_a_volume_without_a_source_becomes_empty_dir() -> None:
    pod = {"kind": "Pod", "spec": {"volumes": [{"name": "scratch"}, {"name": "config", "configMap": {"name": "c"}}]}}
    apply_pod_defaults(pod)
    assert pod["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}, {"name": "config", "configMap": {"name": "c"}}]


def test_host_network_defaults_host_ports_to_container_ports() -> None:
    pod = {"kind": "Pod", "spec": {"hostNetwork": True, "containers": [
        {"name": "a", "ports": [{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9091}]}]}}
    apply_pod_defaults(pod)
    assert pod["spec"]["containers"][0]["ports"] == [
        {"containerPort": 8080, "hostPort": 8080}, {"containerPort": 9090, "hostPort": 9091}]


def test_without_host_network_no_host_port_is_added() -> None:
    pod = {"kind": "Pod", "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 8080}]}]}}
    apply_pod_defaults(pod)
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("Deployment", ("spec", "template", "spec")),
        ("CronJob", ("spec", "jobTemplate", "spec", "template", "spec")),
        ("PodTemplate", ("template", "spec")),
    ],
)
def test_workload_templates_are_defaulted_too(kind: str, path: tuple[str, ...]) -> None:
    obj: dict = {"kind": kind}
    node = obj
    for key in path:
        node = node.setdefault(key, {})
    node["volumes"] = [{"name": "v"}]
    apply_pod_defaults(obj)
    assert node["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_stored_manifests_are_defaulted_and_the_input_is_untouched() -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
                "spec": {"volumes": [{"name": "v"}], "containers": [{"name": "c", "image": "i"}]}}
    stored = as_stored(manifest)
    assert stored["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert manifest["spec"]["volumes"] == [{"name": "v"}]
