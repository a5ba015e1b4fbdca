"""The API server's defaulting of pod specs that changes admission verdicts.

Admission sees objects after defaulting (pkg/apis/core/v1/defaults.go), so a manifest checked
offline must be defaulted the same way or a policy judges a different object than the cluster
would. Only the defaults a validation policy can observe in practice are applied:
SetDefaults_Volume (a volume with no source is an ``emptyDir``) and SetDefaults_PodSpec with
``hostNetwork`` (every container port's ``hostPort`` defaults to its ``containerPort``).
"""

from __future__ import annotations

from typing import Any

# Where each kind keeps its pod spec (PSA's DefaultPodSpecExtractor follows the same paths).
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def pod_spec_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    node: Any = obj
    for key in _POD_SPEC_PATHS.get(str(obj.get("kind")), ()):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and node is not obj else None


def apply_pod_defaults(obj: dict[str, Any]) -> None:
    """Default the pod spec of a Pod or workload template in place."""
    spec = pod_spec_of(obj)
    if spec is None:
        return
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict) and set(volume) <= {"name"}:
            volume["emptyDir"] = {}
    if spec.get("hostNetwork") is True:
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or []:
                for port in (container.get("ports") or []) if isinstance(container, dict) else []:
                    if isinstance(port, dict) and not port.get("hostPort") and "containerPort" in port:
                        port["hostPort"] = port["containerPort"]
