"""A Pod the shipped Pod Security policies deny stays denied under mutations that cannot make it
compliant: never ``allowed: true`` for what a policy denies.

The Pods are the PSA corpus's v1.35 ``fail/`` fixtures, each denied by one PSA check
(index.csv's check_id), admitted in a namespace enforcing its level the way the webhook admits
them: an AdmissionReview through ``parse_review`` and ``decide``. Two mutations keep the
denial's cause intact, so either must leave the verdict deny:

- an unknown field (``fuzz…``, any JSON value) added to any object in the Pod: no policy reads a
  field the Pod schema does not have;
- any value the failing check does not read replaced by a value of another JSON type, or
  deleted. What the check reads is its fields' keys (``CHECK_READS``): a mutation under such a
  key, or of a value that holds one, is not made, since it could rightly make the Pod compliant
  (``privileged: true`` → ``privileged: "yes"``). Nor are apiVersion, kind and the namespace,
  which say what is being admitted, the fields every check consults (``EVERY_CHECK_READS``), and
  the spec, its container lists or a whole container, which the container checks iterate: a
  violation can be a field a container lacks (restricted's allowPrivilegeEscalation), and
  removing that container would rightly make the Pod compliant.

A type-confused Pod is one the API server's typed decoding would refuse, so no real request
carries one; what is checked here is that confusion anywhere else can only add errors, which
failurePolicy Fail turns into denials, and never hides the violation.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import mutations
from tests.fuzz.profile import fuzz_settings
from tests.fuzz.seeds import PSA_CORPUS, review_for
from tests.fuzz.targets import NAMESPACE, cluster, pod_security, timed_decide
from webhook.admission.review import ReviewError, parse_review

VERSION = "v1.35"
CHECK_READS: dict[str, frozenset[str]] = {
    "appArmorProfile": frozenset({"securityContext", "annotations"}),
    "capabilities_baseline": frozenset({"securityContext"}),
    "capabilities_restricted": frozenset({"securityContext"}),
    "hostNamespaces": frozenset({"hostNetwork", "hostPID", "hostIPC"}),
    "hostPathVolumes": frozenset({"volumes"}),
    "hostPorts": frozenset({"ports", "hostNetwork"}),
    "hostProbesAndHostLifecycle": frozenset({"livenessProbe", "readinessProbe", "startupProbe", "lifecycle"}),
    "privileged": frozenset({"securityContext"}),
    "procMount": frozenset({"securityContext", "hostUsers"}),
    "procMount_restricted": frozenset({"securityContext", "hostUsers"}),
    "seLinuxOptions": frozenset({"securityContext"}),
    "seccompProfile_baseline": frozenset({"securityContext", "annotations"}),
    "seccompProfile_restricted": frozenset({"securityContext", "annotations"}),
    "sysctls": frozenset({"securityContext"}),
    "windowsHostProcess": frozenset({"securityContext", "hostNetwork"}),
    "allowPrivilegeEscalation": frozenset({"securityContext"}),
    "restrictedVolumes": frozenset({"volumes"}),
    "runAsNonRoot": frozenset({"securityContext"}),
    "runAsUser": frozenset({"securityContext"}),
}
# spec.os.name == "windows" relaxes the Linux-only restricted checks; runtimeClassName can exempt.
EVERY_CHECK_READS = frozenset({"os", "runtimeClassName"})
WHAT_IS_ADMITTED = {("apiVersion",), ("kind",), ("metadata",), ("metadata", "namespace")}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _iterated(path: mutations.Path) -> bool:
    """The spec, a container list or one whole container."""
    return path == ("spec",) or (len(path) in (2, 3) and path[0] == "spec" and path[1] in CONTAINER_LISTS)


def _admit(pod: dict[str, Any], level: str) -> bool | None:
    """allowed, or None when the review is refused as a bad request (a 4xx, not an allow)."""
    try:
        parsed = parse_review(json.dumps(review_for(pod, NAMESPACE)).encode())
    except ReviewError as error:
        assert 400 <= error.status < 500
        return None
    return timed_decide(pod_security(), parsed.attributes, cluster(level, VERSION)).allowed


@lru_cache(maxsize=1)
def denied_fixtures() -> tuple[tuple[str, str, str], ...]:
    """(path, level, check_id) of every v1.35 fixture PSA denies and this path denies too."""
    import csv

    with open(PSA_CORPUS / "index.csv", newline="") as index:
        rows = [r for r in csv.DictReader(index) if r["version"] == VERSION and r["expect"] == "deny"]
    found = []
    for row in rows:
        pod = yaml.safe_load((PSA_CORPUS / row["path"]).read_text())
        if row["check_id"] in CHECK_READS and _admit(pod, row["level"]) is False:
            found.append((row["path"], row["level"], row["check_id"]))
    return tuple(found)


def _pod(path: str) -> dict[str, Any]:
    return yaml.safe_load((PSA_CORPUS / path).read_text())


def _mutable(pod: dict[str, Any], check: str) -> list[mutations.Path]:
    """Paths whose value the failing check neither reads nor contains."""
    protected = CHECK_READS[check] | EVERY_CHECK_READS
    result = []
    for path in mutations.paths(pod):
        if not path or path in WHAT_IS_ADMITTED or _iterated(path) or any(step in protected for step in path):
            continue
        if any(step in protected for sub in mutations.paths(mutations.get(pod, path)) for step in sub):
            continue
        result.append(path)
    return result


def test_the_corpus_gives_denied_pods_for_every_check() -> None:
    checks = {check for _, _, check in denied_fixtures()}
    assert checks == set(CHECK_READS), set(CHECK_READS) - checks


@fuzz_settings(150)
@given(st.data())
def test_an_unknown_field_anywhere_never_turns_a_denial_into_an_allow(data: st.DataObject) -> None:
    path, level, _ = data.draw(st.sampled_from(denied_fixtures()), label="fixture")
    pod = _pod(path)
    objects = [p for p in mutations.paths(pod) if isinstance(mutations.get(pod, p), dict) and p not in WHAT_IS_ADMITTED]
    where = data.draw(st.sampled_from(objects), label="object")
    key = "fuzz" + data.draw(st.text(max_size=8), label="key")
    mutated = mutations.replaced(pod, (*where, key), data.draw(mutations.json_values, label="value"))
    assert _admit(mutated, level) is not True, f"{path}: {where}.{key} made it allowed"


@fuzz_settings(200)
@given(st.data())
def test_type_confusion_or_deletion_outside_the_failing_check_never_allows(data: st.DataObject) -> None:
    path, level, check = data.draw(st.sampled_from(denied_fixtures()), label="fixture")
    pod = _pod(path)
    candidates = _mutable(pod, check)
    if not candidates:
        return
    where = data.draw(st.sampled_from(candidates), label="path")
    if data.draw(st.booleans(), label="delete"):
        mutated = mutations.deleted(pod, where)
    else:
        mutated = mutations.replaced(pod, where, data.draw(mutations.other_type_values(mutations.get(pod, where)),
                                                              label="value"))
    assert _admit(mutated, level) is not True, f"{path} ({check}): mutating {where} made it allowed"


@pytest.fixture(autouse=True, scope="module")
def compiled_policies() -> None:
    pod_security()
