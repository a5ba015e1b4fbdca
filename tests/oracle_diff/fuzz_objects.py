"""Generated Pod-, Deployment- and CronJob-shaped objects, params and namespace objects.

Plain JSON data, seeded: every field a policy commonly reads is sometimes present, absent,
null or oddly typed, so ``has()``, optionals and errors all get exercised.
"""

from __future__ import annotations

import random
from typing import Any

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

NAMES = ["app", "web", "db-0", "a", "x.y", "Web", "sidecar", "init", "", "very-long-name-" + "x" * 40]
IMAGES = [
    "nginx", "nginx:1.25", "registry.example.com/team/app:v1.2.3", "ghcr.io/org/img@sha256:" + "a" * 64,
    "busybox:latest", "localhost:5000/x", "UPPER/Case:tag",
]
QUANTITIES = ["100m", "1", "0.5", "1Gi", "512Mi", "2k", "1e3", "1.5Gi", "0", "-1", "123456789012345678", "bogus", "1Ei"]
IPS = ["10.0.0.1", "192.168.1.255", "::1", "2001:db8::1", "0.0.0.0", "127.0.0.1", "fe80::1", "::ffff:1.2.3.4", "1.2.3", "300.1.1.1"]
CIDRS = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "10.0.0.1/32", "0.0.0.0/0", "10.0.0.1/8", "::/0", "1.2.3.4/33"]
URLS = ["https://example.com/a/b?x=1", "http://user@host:8080/p", "https://[::1]:443/", "ftp://h/", "/relative", "https://h/%20x", "not a url"]
VERSIONS = ["1.2.3", "v1.2.3", "1.2.3-alpha.1", "1.2.3+build.5", "0.0.0", "1.2", "01.2.3", "10.20.30"]
INTS = [0, 1, -1, 2, 3, 7, 10, 100, 65535, 2147483647, INT64_MAX, INT64_MIN, -100]
LABEL_KEYS = ["app", "tier", "env", "pod-security.kubernetes.io/enforce", "team", "x"]
LABEL_VALUES = ["web", "db", "prod", "dev", "restricted", "baseline", "", "A_b.c"]
CAPABILITIES = ["NET_ADMIN", "SYS_ADMIN", "ALL", "NET_BIND_SERVICE", "CHOWN"]


def _maybe(rng: random.Random, value: Any, absent: float = 0.3, null: float = 0.08) -> Any:
    """``value``, or the marker ``_ABSENT`` (drop the key), or None."""
    roll = rng.random()
    if roll < absent:
        return _ABSENT
    if roll < absent + null:
        return None
    return value


_ABSENT = object()


def _obj(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not _ABSENT}


def labels(rng: random.Random) -> dict[str, str]:
    return {key: rng.choice(LABEL_VALUES) for key in rng.sample(LABEL_KEYS, rng.randint(0, 4))}


def container(rng: random.Random, name: str) -> dict[str, Any]:
    capabilities = _maybe(rng, _obj(
        add=_maybe(rng, rng.sample(CAPABILITIES, rng.randint(0, 2)), null=0),
        drop=_maybe(rng, rng.sample(CAPABILITIES, rng.randint(0, 2)), null=0),
    ))
    security = _maybe(rng, _obj(
        privileged=_maybe(rng, rng.random() < 0.5),
        allowPrivilegeEscalation=_maybe(rng, rng.random() < 0.5),
        runAsNonRoot=_maybe(rng, rng.random() < 0.5),
        runAsUser=_maybe(rng, rng.choice(INTS)),
        capabilities=capabilities,
    ))
    resources = _maybe(rng, _obj(
        limits=_maybe(rng, {k: rng.choice(QUANTITIES) for k in rng.sample(["cpu", "memory"], rng.randint(0, 2))}, null=0),
        requests=_maybe(rng, {k: rng.choice(QUANTITIES) for k in rng.sample(["cpu", "memory"], rng.randint(0, 2))}, null=0),
    ), null=0.02)
    ports = _maybe(rng, [
        _obj(containerPort=rng.choice([80, 443, 8080, 0, 65535, 70000]), protocol=_maybe(rng, rng.choice(["TCP", "UDP"]), null=0),
             hostPort=_maybe(rng, rng.choice([0, 80, 8080]), absent=0.7, null=0))
        for _ in range(rng.randint(0, 3))
    ], null=0.02)
    env = _maybe(rng, [
        _obj(name=rng.choice(["A", "PATH", "x"]), value=_maybe(rng, rng.choice(["1", "", "v"]), null=0.1))
        for _ in range(rng.randint(0, 2))
    ], null=0)
    return _obj(
        name=name, image=_maybe(rng, rng.choice(IMAGES), absent=0.05, null=0.02),
        imagePullPolicy=_maybe(rng, rng.choice(["Always", "IfNotPresent", "Never"]), null=0),
        securityContext=security, resources=resources, ports=ports, env=env,
    )


def pod_spec(rng: random.Random) -> dict[str, Any]:
    names = rng.sample(["app", "web", "sidecar", "db", "x"], rng.randint(1, 3))
    return _obj(
        containers=[container(rng, name) for name in names],
        initContainers=_maybe(rng, [container(rng, "init")], absent=0.6, null=0.05),
        hostNetwork=_maybe(rng, rng.random() < 0.4, absent=0.5),
        hostPID=_maybe(rng, rng.random() < 0.3, absent=0.6),
        serviceAccountName=_maybe(rng, rng.choice(["default", "builder", ""]), null=0.02),
        nodeSelector=_maybe(rng, labels(rng), absent=0.6),
        priority=_maybe(rng, rng.choice(INTS), absent=0.6, null=0.05),
        securityContext=_maybe(rng, _obj(runAsNonRoot=_maybe(rng, True), seccompProfile=_maybe(rng, {"type": rng.choice(["RuntimeDefault", "Unconfined", "Localhost"])}))),
        volumes=_maybe(rng, [
            rng.choice([{"name": "data", "emptyDir": {}}, {"name": "host", "hostPath": {"path": rng.choice(["/", "/var/log", "/etc"])}},
                        {"name": "cfg", "configMap": {"name": "c"}}])
            for _ in range(rng.randint(0, 2))
        ], null=0.03),
    )


def metadata(rng: random.Random, namespaced: bool = True) -> dict[str, Any]:
    return _obj(
        name=rng.choice(NAMES[:-2]),
        namespace=_maybe(rng, rng.choice(["default", "prod", "kube-system"]), absent=0.1, null=0) if namespaced else _ABSENT,
        labels=_maybe(rng, labels(rng), null=0.05),
        annotations=_maybe(rng, {k: rng.choice(["true", "1", "", "x"]) for k in rng.sample(["a", "b/c", "note"], rng.randint(0, 2))}, absent=0.5),
        generation=_maybe(rng, rng.choice(INTS), absent=0.6, null=0),
        uid=_maybe(rng, "0b1f3c2e-0000-4000-8000-000000000001", absent=0.5, null=0),
    )


def workload(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["Pod", "Deployment", "CronJob"])
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata(rng), "spec": pod_spec(rng)}
    template = _obj(metadata=_maybe(rng, _obj(labels=_maybe(rng, labels(rng))), null=0), spec=pod_spec(rng))
    if kind == "Deployment":
        spec = _obj(
            replicas=_maybe(rng, rng.choice(INTS + [5, 3]), absent=0.2, null=0.05),
            selector={"matchLabels": labels(rng)},
            strategy=_maybe(rng, {"type": rng.choice(["RollingUpdate", "Recreate"])}, absent=0.5, null=0),
            template=template,
        )
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(rng), "spec": spec}
    spec = _obj(
        schedule=rng.choice(["*/5 * * * *", "@daily", "0 0 * * *", ""]),
        suspend=_maybe(rng, rng.random() < 0.5, absent=0.5),
        successfulJobsHistoryLimit=_maybe(rng, rng.choice(INTS), absent=0.5, null=0),
        jobTemplate={"spec": _obj(backoffLimit=_maybe(rng, rng.choice([0, 6, 100])), template=template)},
    )
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata(rng), "spec": spec}


def params(rng: random.Random) -> dict[str, Any]:
    """A custom param object (kind Limits) in namespace ``default``."""
    spec = _obj(
        maxReplicas=_maybe(rng, rng.choice([1, 3, 10, INT64_MAX, -1]), null=0.05),
        allowedRegistries=_maybe(rng, rng.sample(["registry.example.com", "ghcr.io", "docker.io", ""], rng.randint(0, 3)), null=0.05),
        maxCpu=_maybe(rng, rng.choice(QUANTITIES), null=0.05),
        minVersion=_maybe(rng, rng.choice(VERSIONS)),
        allowedCidrs=_maybe(rng, rng.sample(CIDRS[:6], rng.randint(0, 3))),
        ratio=_maybe(rng, rng.choice([0.5, 1.0, 2.5, -0.0, 1e300])),
        requiredLabels=_maybe(rng, rng.sample(LABEL_KEYS, rng.randint(0, 3)), null=0),
    )
    return {"apiVersion": "policy.example.com/v1", "kind": "Limits", "metadata": {"name": "limits", "namespace": "default"}, "spec": spec}


def namespace(rng: random.Random, name: str) -> dict[str, Any]:
    """A Namespace as an informer has it (no apiVersion/kind)."""
    return {
        "metadata": _obj(
            name=name, labels={"kubernetes.io/metadata.name": name, **labels(rng)},
            annotations=_maybe(rng, {"owner": rng.choice(["team-a", ""])}, null=0),
            uid="0b1f3c2e-0000-4000-8000-000000000002", resourceVersion="42",
        ),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": rng.choice(["Active", "Terminating"])},
    }


def namespace_object(rng: random.Random, name: str) -> dict[str, Any]:
    """``namespaceObject`` as CreateNamespaceObject leaves it (what a policy sees)."""
    ns = namespace(rng, name)
    meta = {k: v for k, v in ns["metadata"].items() if k in ("name", "uid", "resourceVersion", "labels", "annotations")}
    meta["creationTimestamp"] = None
    return {"metadata": meta, "spec": ns["spec"], "status": ns["status"]}


def request(rng: random.Random, obj: dict[str, Any], operation: str) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = {"Pod": "pods", "Deployment": "deployments", "CronJob": "cronjobs"}[obj["kind"]]
    gvk = {"group": group, "version": version, "kind": obj["kind"]}
    gvr = {"group": group, "version": version, "resource": resource}
    user = {"username": rng.choice(["alice", "system:serviceaccount:default:builder", ""]),
            "uid": "u-1", "groups": rng.sample(["system:authenticated", "dev", "system:masters"], rng.randint(0, 2))}
    req = {
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": obj["metadata"].get("name", ""), "operation": operation, "userInfo": user,
        "dryRun": rng.random() < 0.2, "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    if isinstance(obj["metadata"].get("namespace"), str):
        req["namespace"] = obj["metadata"]["namespace"]
    return req
