"""celgate vs kube-apiserver's built-in ValidatingAdmissionPolicy, request by request.

The shipped Pod Security policies and the e2e policies (params, namespaceObject, variables,
messageExpression, the CEL library families) are loaded twice into one API server: natively as
API objects and into celgate. Every v1.35 Pod of the PSA conformance corpus under two
namespace configurations, and the custom cases of differential/cases.yaml, are created in both
modes; differential.py says what is compared. Policy creation is compared too: each entry of
differential/policy-validation.yaml is created natively (dry run) and loaded by celgate, and
acceptance, fields and messages must agree. The counts go to
``$CELGATE_E2E_DIFFERENTIAL_REPORT`` (JSON; tests/e2e/run prints them) and the table to stdout.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from differential import (
    Case, Comparison, Scenario, Verdict, custom_cases, differences, policy_validation_cases, psa_cases, render_table,
    validation_verdict, verdict, workload_cases, write_report,
)
from e2e_objects import E2E_POLICIES, SHIPPED_POLICIES, pod
from registration import REPO, install_native, nativize, read_policy_documents, uninstall
from webhook.documents import Document
from webhook.policy.errors import PolicyLoadError
from webhook.policy.loader import load_policy_documents

pytestmark = pytest.mark.e2e

CORPUS = Path(os.environ.get("CELGATE_PSA_CORPUS", REPO.parent / "shared" / "conformance" / "psa"))
CUSTOM_CASES = Path(__file__).resolve().parent / "differential" / "cases.yaml"
POLICY_VALIDATION_CASES = Path(__file__).resolve().parent / "differential" / "policy-validation.yaml"


def _namespaces(cluster, scenario: Scenario) -> dict[str, str]:
    created = {}
    for mode in ("native", "webhook"):
        ns = cluster.create_namespace(mode, scenario.labels, prefix=f"diff-{mode[0]}")
        for configmap in scenario.configmaps:
            cluster.kube.must("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap)
        created[mode] = ns
    return created


def _audit_index(cluster) -> dict[tuple[str, str], dict]:
    index = {}
    for event in cluster.audit_events():
        ref = event.get("objectRef") or {}
        if event.get("verb") == "create" and event.get("stage") == "ResponseComplete" and ref.get("name"):
            index[(ref.get("namespace"), ref["name"])] = event
    return index


@pytest.fixture(scope="module")
def admission_comparisons(cluster, webhook) -> list[Comparison]:
    if not CORPUS.is_dir():
        pytest.skip(f"PSA corpus not found at {CORPUS} (set CELGATE_PSA_CORPUS)")
    cases = psa_cases(CORPUS) + workload_cases(CORPUS) + custom_cases(CUSTOM_CASES)
    probe_ns = cluster.create_namespace("native", prefix="diff-probe")
    installed = install_native(cluster.kube, nativize(read_policy_documents([SHIPPED_POLICIES, E2E_POLICIES])), probe_ns)
    try:
        namespaces = {}
        for case in cases:
            if case.scenario.name not in namespaces:
                namespaces[case.scenario.name] = _namespaces(cluster, case.scenario)
        time.sleep(1)  # ConfigMaps and namespaces reach both informers (apiserver's, celgate's)
        started = time.monotonic()

        def both(case):
            ns = namespaces[case.scenario.name]
            return (case, ns, cluster.kube.create(case.obj, ns["native"], dry_run=True),
                    cluster.kube.create(case.obj, ns["webhook"], dry_run=True))

        # A few requests in flight: the API server and celgate's workers answer concurrently.
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(both, cases))
        elapsed = time.monotonic() - started
    finally:
        uninstall(cluster.kube, installed)
    audit = _audit_index(cluster) if cluster.has_audit_log else {}
    results = []
    for case, ns, native_outcome, webhook_outcome in outcomes:
        native = verdict(native_outcome, audit.get((ns["native"], case.name)), webhook=False, namespace=ns["native"])
        hooked = verdict(webhook_outcome, audit.get((ns["webhook"], case.name)), webhook=True, namespace=ns["webhook"])
        results.append(Comparison(case, native, hooked, differences(native, hooked)))
    print(f"\n{2 * len(cases)} dry-run creates in {elapsed:.1f} s")
    return results


def _celgate_load(policy: dict) -> Verdict:
    try:
        load_policy_documents([Document("e2e", 0, 1, policy)])
    except PolicyLoadError as error:
        return validation_verdict(False, [(p.field, p.message) for p in error.problems])
    return validation_verdict(True, [])


def _native_create(cluster, policy: dict) -> Verdict:
    outcome = cluster.kube.request(
        "POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies?dryRun=All", policy)
    causes = (outcome.body.get("details") or {}).get("causes") or []
    problems = [(c.get("field", ""), c.get("message", "")) for c in causes]
    if not outcome.allowed and not problems:
        problems = [("", outcome.message)]
    return validation_verdict(outcome.allowed, problems)


@pytest.fixture(scope="module")
def validation_comparisons(cluster) -> list[Comparison]:
    """Policy creation: kube-apiserver's validation against celgate's loader."""
    results = []
    for case in policy_validation_cases(POLICY_VALIDATION_CASES):
        native, loaded = _native_create(cluster, case.obj), _celgate_load(case.obj)
        results.append(Comparison(case, native, loaded, differences(native, loaded)))
    return results


UPDATES = {
    # PSA evaluates a Pod update only when an image changes (the shipped matchCondition).
    "labels-only": {"metadata": {"labels": {"touched": "yes"}}},
    "image-change": {"spec": {"containers": [{"name": "main", "image": "celgate.invalid/noop:1"}]}},
}


@pytest.fixture(scope="module")
def update_comparisons(cluster, webhook, admission_comparisons) -> list[Comparison]:
    """UPDATE requests (oldObject, matchConditions): a privileged Pod stored before its namespace
    opted in, then patched. Runs after the admission cases, whose native policies it reinstalls."""
    scenario = Scenario("update", {"pod-security.kubernetes.io/enforce": "baseline",
                                   "pod-security.kubernetes.io/warn": "baseline",
                                   "pod-security.kubernetes.io/audit": "baseline"})
    probe_ns = cluster.create_namespace("native", prefix="diff-probe")
    installed = install_native(cluster.kube, nativize(read_policy_documents([SHIPPED_POLICIES])), probe_ns)
    privileged = pod("stored", privileged=True)
    try:
        namespaces = {mode: cluster.create_namespace(mode, prefix=f"diff-{mode[0]}") for mode in ("native", "webhook")}
        for ns in namespaces.values():
            cluster.kube.must("POST", f"/api/v1/namespaces/{ns}/pods", privileged)
            cluster.kube.must("PATCH", f"/api/v1/namespaces/{ns}", {"metadata": {"labels": scenario.labels}},
                              content_type="application/merge-patch+json")
        time.sleep(1)  # the label change reaches both namespace informers
        outcomes = []
        for name, patch in UPDATES.items():
            results = {mode: cluster.kube.request("PATCH", f"/api/v1/namespaces/{ns}/pods/stored?dryRun=All", patch,
                                                  content_type="application/strategic-merge-patch+json")
                       for mode, ns in namespaces.items()}
            outcomes.append((Case(f"update/{name}", scenario, privileged), results))
    finally:
        uninstall(cluster.kube, installed)
    comparisons = []
    for case, results in outcomes:
        native = verdict(results["native"], None, webhook=False, namespace=namespaces["native"])
        hooked = verdict(results["webhook"], None, webhook=True, namespace=namespaces["webhook"])
        comparisons.append(Comparison(case, native, hooked, differences(native, hooked)))
    return comparisons


@pytest.fixture(scope="module")
def comparisons(admission_comparisons, update_comparisons, validation_comparisons) -> list[Comparison]:
    return admission_comparisons + update_comparisons + validation_comparisons


def test_celgate_agrees_with_the_builtin_admission_policy_plugin(comparisons):
    report = Path(os.environ.get("CELGATE_E2E_DIFFERENTIAL_REPORT", "/tmp/celgate-e2e-differential.json"))
    summary = write_report(report, comparisons)
    print("\n" + render_table(comparisons))
    print(summary.line())
    differing = [c for c in comparisons if not c.agree]
    assert not differing, f"{len(differing)} of {len(comparisons)} cases differ (table above; all in {report})"


def test_the_corpus_exercised_every_outcome(comparisons):
    """Guards against a vacuous comparison: native denials, warnings and admissions all occurred."""
    categories = {c.native.category for c in comparisons if c.case.id.startswith("psa/")}
    assert {"allowed", "warned", "denied"} <= categories, categories


def test_a_pod_update_is_judged_only_when_an_image_changes(update_comparisons):
    outcomes = {c.case.id: (c.native.allowed, c.webhook.allowed) for c in update_comparisons}
    assert outcomes == {"update/labels-only": (True, True), "update/image-change": (False, False)}
