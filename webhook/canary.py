"""The enforcement canary: prove, through the API server, that celgate is enforcing.

Two Pods are created with ``dryRun=All`` (never stored, never run) in a labelled namespace: a
privileged one that celgate must deny — by celgate's webhook, with the expected message — and
a compliant restricted one that must be admitted. Either way round is a failure: a missing or
bypassed webhook admits the bad Pod; a broken policy set denies the good one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from webhook.kube_rest import KubeREST

DEFAULT_NAMESPACE = "celgate-canary"
DEFAULT_WEBHOOK = "validate.celgate.io"
# PSA's aggregated message for the bad Pod at the canary namespace's level (restricted, no version
# label: latest); policies/pod-security words it exactly so (policy.AggregateCheckResults upstream).
DEFAULT_EXPECTED = ('violates PodSecurity "restricted:latest": '
                    'privileged (container "app" must not set securityContext.privileged=true)')
CANARY_LABEL = "celgate.io/canary"
NAMESPACE_LABELS = {CANARY_LABEL: "true", "pod-security.kubernetes.io/enforce": "restricted"}


def bad_pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "celgate-canary-privileged", "labels": {CANARY_LABEL: "bad"}},
            "spec": {"containers": [{"name": "app", "image": "pause:3.10",
                                     "securityContext": {"privileged": True}}]}}


def good_pod() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "celgate-canary-restricted", "labels": {CANARY_LABEL: "good"}},
            "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "app", "image": "pause:3.10",
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}


@dataclass
class CanaryResult:
    ok: bool = True
    lines: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, line: str) -> None:
        self.ok = self.ok and ok
        self.lines.append((ok, line))

    @property
    def errors(self) -> list[str]:
        return [line for ok, line in self.lines if not ok]


def ensure_namespace(rest: KubeREST, name: str, labels: Mapping[str, str]) -> None:
    path = f"/api/v1/namespaces/{name}"
    existing = rest.get(path)
    if existing is None:
        rest.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name, "labels": dict(labels)}})
        return
    current = (existing.get("metadata") or {}).get("labels") or {}
    if any(current.get(k) != v for k, v in labels.items()):
        rest.must("PATCH", path, {"metadata": {"labels": dict(labels)}}, content_type="application/merge-patch+json")


def run_canary(rest: KubeREST, *, namespace: str = DEFAULT_NAMESPACE, webhook: str = DEFAULT_WEBHOOK,
               expected: str = DEFAULT_EXPECTED, labels: Mapping[str, str] | None = None,
               create_namespace: bool = True) -> CanaryResult:
    result = CanaryResult()
    if create_namespace:
        ensure_namespace(rest, namespace, {**NAMESPACE_LABELS, **(labels or {})})
    path = f"/api/v1/namespaces/{namespace}/pods"
    prefix = f'admission webhook "{webhook}" denied the request: '
    started = time.perf_counter()
    bad = rest.request("POST", path, bad_pod(), query={"dryRun": "All"})
    message = bad.message
    if bad.ok:
        result.check(False, f"privileged Pod was ADMITTED in {namespace} (dryRun): celgate is not enforcing there")
    elif not message.startswith(prefix):
        result.check(False, f"privileged Pod was denied, but not by celgate's webhook {webhook!r}: HTTP {bad.status}: {message}")
    elif expected not in message:
        result.check(False, f"privileged Pod was denied by celgate without the expected text {expected!r}: {message}")
    else:
        result.check(True, f"privileged Pod denied by {webhook} ({time.perf_counter() - started:.3f}s): {message[len(prefix):]}")
    started = time.perf_counter()
    good = rest.request("POST", path, good_pod(), query={"dryRun": "All"})
    if good.ok:
        result.check(True, f"restricted Pod admitted ({time.perf_counter() - started:.3f}s)")
    else:
        result.check(False, f"restricted Pod was DENIED: HTTP {good.status}: {good.message}")
    return result
