"""What the fuzzers drive, and the properties every input must keep.

One function per target, bytes in, shared by the hypothesis properties (tests/fuzz/test_*.py)
and the coverage-guided atheris runs (tests/fuzz/atheris_main.py, tools/fuzz). A target returns
quietly when celgate handled the input as it promises (an answer, or the documented error type
with a caller's status); anything else, an unexpected exception or a broken promise, raises
``PropertyViolation`` or the exception itself, which is what a fuzzer reports.

The promises:
- review: ``parse_review`` answers or raises ReviewError with a 4xx status; a parsed review is
  decided without an exception, within DEADLINE_SECONDS, by the shipped Pod Security policies
  (or the policies under $CELGATE_FUZZ_REVIEW_POLICIES: CI's short atheris run takes a small set
  that compiles in a moment).
- documents: ``decode_manifest`` + ``parse_documents`` return plain JSON objects within
  webhook.limits, or raise DocumentError.
- policy: the documents, loaded as a policy set, load or raise PolicyLoadError; a set that
  loads decides a Pod without an exception, within DEADLINE_SECONDS.
"""

from __future__ import annotations

import copy
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from webhook.policy.cluster_data import namespace_object
from webhook.admission.review import ReviewError, parse_review
from webhook.documents import DocumentError, decode_manifest, parse_documents
from webhook.limits import check_json_value
from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.decision import AdmissionDecision
from webhook.policy.dispatcher import decide
from webhook.policy.errors import PolicyLoadError
from webhook.policy.loader import PolicySet, load_policy_documents, load_policy_set

REPO = Path(__file__).resolve().parents[2]
POD_SECURITY = REPO / "policies" / "pod-security"
NAMESPACE = "fuzz"
# Below the webhook's default evaluation deadline (8 s). Measured as the deciding thread's CPU
# time: the decision does no I/O, and a machine shared with other jobs stretches wall time alone.
DEADLINE_SECONDS = 5.0


class PropertyViolation(AssertionError):
    """An input celgate did not handle as it promises."""


@lru_cache(maxsize=1)
def pod_security() -> PolicySet:
    return load_policy_set([str(POD_SECURITY)])


@lru_cache(maxsize=1)
def review_policies() -> PolicySet:
    chosen = os.environ.get("CELGATE_FUZZ_REVIEW_POLICIES")
    return load_policy_set([chosen]) if chosen else pod_security()


def cluster(level: str = "restricted", version: str = "latest") -> StaticClusterData:
    labels = {"pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/enforce-version": version}
    return StaticClusterData(namespaces=[namespace_object(NAMESPACE, labels)])


def timed_decide(policy_set: PolicySet, attributes: Any, cluster_data: StaticClusterData) -> AdmissionDecision:
    started = time.thread_time()
    decision = decide(policy_set, attributes, cluster_data)
    elapsed = time.thread_time() - started
    if elapsed > DEADLINE_SECONDS:
        raise PropertyViolation(f"decision took {elapsed:.1f}s of CPU, over the {DEADLINE_SECONDS:g}s deadline")
    if not isinstance(decision.allowed, bool):
        raise PropertyViolation(f"decision.allowed is {decision.allowed!r}")
    return decision


def review_target(data: bytes) -> None:
    try:
        parsed = parse_review(data)
    except ReviewError as error:
        if not 400 <= error.status < 500:
            raise PropertyViolation(f"ReviewError with status {error.status}: {error.message}") from None
        return
    timed_decide(review_policies(), parsed.attributes, cluster())


def documents_target(data: bytes, *, json_only: bool = False) -> list[dict[str, Any]]:
    try:
        documents = parse_documents(decode_manifest(data, "fuzz.yaml"), "fuzz.yaml", json_only=json_only)
    except DocumentError as error:
        if not error.message or "Traceback" in error.message:
            raise PropertyViolation(f"unhelpful DocumentError: {error!r}") from None
        return []
    for document in documents:
        if not isinstance(document.obj, dict):
            raise PropertyViolation(f"document {document.index} is a {type(document.obj).__name__}")
        check_json_value(document.obj, "document")  # LimitExceeded here is a violation
    return [document.obj for document in documents]


SAMPLE_POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "fuzz", "namespace": NAMESPACE, "labels": {"app": "fuzz"}},
    "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "securityContext": {"privileged": True}}]},
}


def policy_target(data: bytes) -> None:
    try:
        documents = parse_documents(decode_manifest(data, "policy.yaml"), "policy.yaml")
    except DocumentError:
        return
    try:
        policy_set = load_policy_documents(documents)
    except PolicyLoadError:
        return
    from webhook.admission.manifest import attributes_for_manifest

    timed_decide(policy_set, attributes_for_manifest(copy.deepcopy(SAMPLE_POD)), cluster())


TARGETS: dict[str, Callable[[bytes], Any]] = {
    "review": review_target,
    "documents": documents_target,
    "policy": policy_target,
}
