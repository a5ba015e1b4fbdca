"""wgpolicyk8s.io/v1alpha2 PolicyReport and ClusterPolicyReport objects from decisions.

The schema is the Policy Working Group's (kubernetes-sigs/wg-policy-prototypes,
policy-report/crd/v1alpha2; the CRDs are shipped in manifests/policy-reports/). One result per
object, policy and binding: ``policy`` is the ValidatingAdmissionPolicy, ``rule`` the binding,
``result`` what it said (deny and audit -> fail, warn -> warn, error -> error, admit -> pass),
``properties.enforcementAction`` the binding's action in the apiserver's metric vocabulary.
Results are keyed so that writing the same observation twice (a retried request, a restarted
webhook re-reading its report) replaces rather than duplicates it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from webhook.policy.decision import PolicyEvaluation

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SOURCE = "celgate"
# A report is one etcd object (1.5 MiB by default); this keeps one far below that.
DEFAULT_MAX_RESULTS = 1000
RESULT_BY_EVALUATION = {"deny": "fail", "audit": "fail", "warn": "warn", "error": "error", "admit": "pass"}
SUMMARY_KEYS = ("pass", "fail", "warn", "error", "skip")
_MESSAGE_LIMIT = 1024


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> "ObjectRef":
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str(meta.get("namespace") or ""),
                   str(meta.get("name") or meta.get("generateName") or ""), str(meta.get("uid") or ""))

    def as_reference(self) -> dict[str, str]:
        ref = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            ref["namespace"] = self.namespace
        if self.uid:
            ref["uid"] = self.uid
        return ref


def report_result(
    evaluation: PolicyEvaluation, ref: ObjectRef, *, category: str, timestamp: float | None = None,
    properties: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One v1alpha2 result for what ``evaluation`` said about the object ``ref``."""
    now = time.time() if timestamp is None else timestamp
    result = "error" if evaluation.ignored_error else RESULT_BY_EVALUATION[evaluation.result]
    props = {"binding": evaluation.binding}
    if evaluation.result in ("deny", "warn", "audit"):
        props["enforcementAction"] = evaluation.result
    if evaluation.param:
        props["param"] = evaluation.param
    props.update(properties or {})
    entry: dict[str, Any] = {
        "source": SOURCE,
        "policy": evaluation.policy,
        "rule": evaluation.binding,
        "category": category,
        "result": result,
        "scored": True,
        "resources": [ref.as_reference()],
        "timestamp": {"seconds": int(now), "nanos": int((now % 1) * 1e9)},
        "properties": props,
    }
    if evaluation.message:
        entry["message"] = evaluation.message[:_MESSAGE_LIMIT]
    return entry


def result_key(result: Mapping[str, Any]) -> tuple[str, ...]:
    """Results with one key describe one observation: the newer one replaces the older."""
    (resource,) = result.get("resources") or [{}]
    return (str(result.get("policy")), str(result.get("rule")), str(result.get("result")),
            str(resource.get("kind")), str(resource.get("namespace", "")), str(resource.get("name")),
            str((result.get("properties") or {}).get("param", "")))


def _seconds(result: Mapping[str, Any]) -> float:
    stamp = result.get("timestamp") or {}
    return float(stamp.get("seconds", 0)) + float(stamp.get("nanos", 0)) / 1e9


def merge_results(
    existing: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]], max_results: int = DEFAULT_MAX_RESULTS
) -> tuple[list[dict[str, Any]], int]:
    """Existing results updated with new ones (same key: the newer wins), the newest
    ``max_results`` kept. Returns (results, how many were dropped for space)."""
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    for result in [*existing, *new]:
        key = result_key(result)
        if key not in merged or _seconds(result) >= _seconds(merged[key]):
            merged[key] = dict(result)
    ordered = sorted(merged.values(), key=_seconds, reverse=True)
    kept = ordered[:max_results]
    kept.sort(key=result_key)  # a stable order: rewriting equal results changes nothing
    return kept, len(ordered) - len(kept)


def summary(results: Sequence[Mapping[str, Any]], passes: int = 0) -> dict[str, int]:
    counts = {key: 0 for key in SUMMARY_KEYS}
    for result in results:
        counts[str(result["result"])] += 1
    counts["pass"] += passes
    return counts


def report_object(
    name: str, namespace: str | None, results: Sequence[Mapping[str, Any]], *, labels: Mapping[str, str] | None = None,
    passes: int = 0,
) -> dict[str, Any]:
    """A PolicyReport in ``namespace``, or a ClusterPolicyReport when namespace is None."""
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "celgate", **(labels or {})}}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport" if namespace is not None else "ClusterPolicyReport",
        "metadata": metadata,
        "results": list(results),
        "summary": summary(results, passes),
    }
