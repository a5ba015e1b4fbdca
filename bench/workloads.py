"""The objects the bench admits: three Pod sizes, AdmissionReviews of them, the PSA corpus and a
deterministic mixed stream of Pods, Deployments and CronJobs.

Everything here is plain data (no celgate import), so the same objects go to every tree.
All objects live in namespaces labelled for Pod Security: ``bench-restricted``
(enforce=restricted) and, in the stream, ``bench-baseline`` (enforce=baseline, warn=restricted).
"""

from __future__ import annotations

import copy
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FIXTURES = BENCH / "fixtures"
RESTRICTED = "bench-restricted"
BASELINE = "bench-baseline"
NAMESPACE_LABELS: dict[str, dict[str, str]] = {
    RESTRICTED: {"pod-security.kubernetes.io/enforce": "restricted"},
    BASELINE: {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted"},
}
STREAM_SEED = 11
STREAM_SIZE = 10_000


def namespace_label_args() -> list[str]:
    """``--namespace-labels`` arguments for celgate test and serve."""
    args = []
    for name, labels in NAMESPACE_LABELS.items():
        args += ["--namespace-labels", f"{name}=" + ",".join(f"{k}={v}" for k, v in labels.items())]
    return args


def psa_corpus() -> Path:
    """The PSA conformance corpus: $CELGATE_PSA_CORPUS, else ../shared/conformance/psa."""
    override = os.environ.get("CELGATE_PSA_CORPUS") or os.environ.get("CELGATE_PSA_DIR")
    if override:
        return Path(override)
    for candidate in (Path("/work/shared/conformance/psa"), REPO.parent / "shared" / "conformance" / "psa"):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "conformance" / "psa"


def psa_v135_dirs(corpus: Path) -> list[Path]:
    return [corpus / level / "v1.35" for level in ("baseline", "restricted") if (corpus / level / "v1.35").is_dir()]


def _restricted_container(name: str, image: str, env_vars: int = 2) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(env_vars)],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def _pod(name: str, spec: dict[str, Any], namespace: str = RESTRICTED) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}}, "spec": spec}


def _pod_spec(containers: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
    }
    if volumes:
        spec["volumes"] = volumes
    return spec


def small_pod() -> dict[str, Any]:
    """One container, compliant with restricted."""
    return _pod("small", _pod_spec([_restricted_container("app", "registry.example/app:1.0")]))


def typical_pod() -> dict[str, Any]:
    """bench/fixtures/pod-4-containers.json, moved into the restricted namespace."""
    pod = json.loads((FIXTURES / "pod-4-containers.json").read_text())
    pod["metadata"]["namespace"] = RESTRICTED
    return pod


def large_pod() -> dict[str, Any]:
    """20 containers with 50 env vars each, 30 volumes (configMap, secret, emptyDir, projected), compliant."""
    volumes: list[dict[str, Any]] = []
    for i in range(30):
        kind = i % 4
        if kind == 0:
            volumes.append({"name": f"config-{i}", "configMap": {"name": f"config-{i}"}})
        elif kind == 1:
            volumes.append({"name": f"secret-{i}", "secret": {"secretName": f"secret-{i}"}})
        elif kind == 2:
            volumes.append({"name": f"scratch-{i}", "emptyDir": {"sizeLimit": "1Gi"}})
        else:
            volumes.append({"name": f"token-{i}", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}})
    containers = []
    for c in range(20):
        container = _restricted_container(f"c{c}", f"registry.example/part-{c}:2.{c}", env_vars=50)
        container["volumeMounts"] = [{"name": volumes[(c + k) % 30]["name"], "mountPath": f"/mnt/{k}"} for k in range(3)]
        container["ports"] = [{"containerPort": 8000 + c, "protocol": "TCP"}]
        containers.append(container)
    return _pod("large", _pod_spec(containers, volumes))


POD_SIZES = {"small": small_pod, "typical": typical_pod, "large": large_pod}
POD_SIZE_TITLES = {"small": "small Pod (1 container)", "typical": "typical Pod (4 containers)",
                   "large": "large Pod (20 containers, 30 volumes, 50 env each)"}


def admission_review(obj: dict[str, Any]) -> dict[str, Any]:
    """An AdmissionReview CREATE of a Pod, as the apiserver sends it (from the webhook fixture's request)."""
    review = json.loads((FIXTURES / "webhook" / "admission-review-pod-3-containers.json").read_text())
    request = review["request"]
    request["object"] = copy.deepcopy(obj)
    request["name"] = obj["metadata"]["name"]
    request["namespace"] = obj["metadata"]["namespace"]
    return review


def privileged_copy(review: dict[str, Any]) -> dict[str, Any]:
    bad = copy.deepcopy(review)
    bad["request"]["object"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    return bad


# The stream's violations: the level that denies each (baseline violations are denied in both namespaces).
_VIOLATIONS = {
    "privileged": "baseline",
    "hostPath": "baseline",
    "hostNetwork": "baseline",
    "runAsRoot": "restricted",
    "capabilities": "baseline",  # NET_ADMIN is beyond baseline's default set
    "dropAll": "restricted",
    "seccomp": "restricted",
}


def _violate(spec: dict[str, Any], violation: str) -> None:
    first = spec["containers"][0]
    if violation == "privileged":
        first["securityContext"]["privileged"] = True
    elif violation == "hostPath":
        spec.setdefault("volumes", []).append({"name": "host", "hostPath": {"path": "/var/log"}})
    elif violation == "hostNetwork":
        spec["hostNetwork"] = True
    elif violation == "runAsRoot":
        spec["securityContext"].pop("runAsNonRoot")
        first["securityContext"].pop("runAsNonRoot")
    elif violation == "capabilities":
        first["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    elif violation == "dropAll":
        first["securityContext"].pop("capabilities")
    elif violation == "seccomp":
        spec["securityContext"].pop("seccompProfile")
        for container in spec["containers"]:
            container["securityContext"].pop("seccompProfile")


@dataclass(frozen=True)
class Stream:
    objects: list[dict[str, Any]]
    expected_denied: int  # Pods with a violation of their namespace's enforce level
    kinds: dict[str, int]


def stream(size: int = STREAM_SIZE, seed: int = STREAM_SEED) -> Stream:
    """``size`` objects: 50 % Pods, 30 % Deployments, 20 % CronJobs, 1-4 containers, in the two
    namespaces; a quarter carry one violation. Only Pods are denied (enforce binds Pods, as PSA
    does); workloads with a violation draw warnings where warn is restricted."""
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    kinds = {"Pod": 0, "Deployment": 0, "CronJob": 0}
    denied = 0
    for i in range(size):
        namespace = RESTRICTED if rng.random() < 0.5 else BASELINE
        containers = [_restricted_container(f"c{c}", f"registry.example/svc-{i % 97}:{c}", env_vars=rng.randint(0, 6))
                      for c in range(rng.randint(1, 4))]
        spec = _pod_spec(containers)
        violation = rng.choice(sorted(_VIOLATIONS)) if rng.random() < 0.25 else None
        if violation:
            _violate(spec, violation)
        draw = rng.random()
        name = f"obj-{i:05d}"
        metadata = {"name": name, "namespace": namespace, "labels": {"app": name}}
        if draw < 0.5:
            obj = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
            if violation and (_VIOLATIONS[violation] == "baseline" or namespace == RESTRICTED):
                denied += 1
        elif draw < 0.8:
            obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": {
                "replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}
        else:
            obj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata, "spec": {
                "schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
                    "metadata": {"labels": {"app": name}}, "spec": {**spec, "restartPolicy": "OnFailure"}}}}}}
        kinds[obj["kind"]] += 1
        objects.append(obj)
    return Stream(objects, denied, kinds)


def write_yaml_stream(objects: list[dict[str, Any]], path: Path) -> Path:
    """Multi-document block-style YAML, as ``helm template`` or ``kubectl get -o yaml`` write it."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump_all(objects, Dumper=dumper, sort_keys=False, explicit_start=True))
    return path
