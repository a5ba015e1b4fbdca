"""The AdmissionReviews the fault tests send, with the verdict each must get.

The policies are tests/fixtures/server/policies (no privileged containers in namespaces labelled
``enforce=true``) or, where evaluation should cost what it costs in production, the shipped
Pod Security set (policies/pod-security/, namespace labelled enforce=restricted).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_POLICIES = REPO / "tests/fixtures/server/policies"
FIXTURE_NAMESPACES = ["--namespace-labels", "secure=enforce=true"]
PSS_POLICIES = REPO / "policies/pod-security"
PSS_NAMESPACES = ["--namespace-labels", "bench-restricted=pod-security.kubernetes.io/enforce=restricted"]
_PSS_REVIEW = REPO / "bench/fixtures/webhook/admission-review-pod-3-containers.json"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    allowed: bool


def _review(obj: dict, uid: str) -> dict:
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"], "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]}, "object": obj, "dryRun": False,
        },
    }


def fixture_pod(name: str, privileged: bool) -> dict:
    container: dict = {"name": "app", "image": "nginx:1.27"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "secure", "labels": {"team": "a"}},
            "spec": {"containers": [container]}}


def fixture_cases() -> list[Case]:
    """A compliant Pod (allowed) and a privileged one (denied) in the enforced namespace."""
    return [
        Case("compliant", json.dumps(_review(fixture_pod("web", False), "00000000-0000-4000-8000-000000000001")).encode(), True),
        Case("privileged", json.dumps(_review(fixture_pod("root", True), "00000000-0000-4000-8000-000000000002")).encode(), False),
    ]


def named_pod_case(name: str, allowed: bool) -> Case:
    return Case(name, json.dumps(_review(fixture_pod(name, False), "00000000-0000-4000-8000-000000000003")).encode(), allowed)


def pss_cases() -> list[Case]:
    """bench's compliant 3-container Pod under the restricted profile, and the same Pod privileged."""
    allowed = json.loads(_PSS_REVIEW.read_text())
    denied = copy.deepcopy(allowed)
    denied["request"]["uid"] = "8d3f6b1e-2c4a-4f7e-9b1d-5a6c7e8f9a02"
    denied["request"]["object"]["spec"]["containers"][0].setdefault("securityContext", {})["privileged"] = True
    return [Case("restricted", json.dumps(allowed).encode(), True), Case("privileged", json.dumps(denied).encode(), False)]
