"""celgate vs kube-apiserver's built-in ValidatingAdmissionPolicy, request by request.

The shipped Pod Security policies and the e2e policies (params, namespaceObject, variables,
messageExpression, the CEL library families) are loaded twice into one API server: natively as
API objects and into celgate. Every v1.35 Pod of the PSA conformance corpus under two
namespace configurations, and the custom cases of differential/cases.yaml, are created in both
modes; differential.py says what is compared. Policy creation is compared too: each entry of
differential/policy-validation.yaml is created natively (dry run) and loaded by celgate, and
acceptance, fields and messages must agree. Public policy collections
(tests/fixtures/third_party/: kubescape's cel-admission-library with its own test cases, the
Kubernetes documentation's examples) and the cost-limit cases of differential/limits/ run the
same way through a second celgate (collection_run.py). The counts, with a row per collection,
go to ``$CELGATE_E2E_DIFFERENTIAL_REPORT`` (JSON; tests/e2e/run prints them) and the table to
stdout.
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
from celgate_process import CelgateProcess
from collection_run import (
    COLLECTIONS_WEBHOOK_CONFIG, install_prerequisites, labelled, native_documents, remove, settle, wait_for_webhook,
    write_policy_dir,
)
from collection_run import webhook_configuration as collections_webhook
from e2e_objects import E2E_POLICIES, SHIPPED_POLICIES, WEBHOOK_PREFIX, pod
from policy_collections import Collection, CollectionCase, load_collection, third_party_collections
from registration import REPO, install_native, nativize, read_policy_documents, uninstall
from webhook.documents import Document
from webhook.policy.errors import PolicyLoadError
from webhook.policy.loader import load_policy_documents

pytestmark = pytest.mark.e2e

CORPUS = Path(os.environ.get("CELGATE_PSA_CORPUS", REPO.parent / "shared" / "conformance" / "psa"))
CUSTOM_CASES = Path(__file__).resolve().parent / "differential" / "cases.yaml"
POLICY_VALIDATION_CASES = Path(__file__).resolve().parent / "differential" / "policy-validation.yaml"
LIMIT_CASES = Path(__file__).resolve().parent / "differential" / "limits"
COLLECTION_SCENARIO = Scenario("collection", {})


def _differ(native_outcome, webhook_outcome, native_ns: str | None = None, webhook_ns: str | None = None) -> bool:
    """Whether two answers differ, audit annotations aside (those are compared afterwards)."""
    extra = {} if native_ns is None else {"namespace": native_ns}
    native = verdict(native_outcome, None, webhook=False, **extra)
    extra = {} if webhook_ns is None else {"namespace": webhook_ns}
    hooked = verdict(webhook_outcome, None, webhook=True, **extra)
    return bool(differences(native, hooked))


def _settled(outcomes: list, redo, differ, attempts: int = 3, pause: float = 2.0) -> list:
    """Informers are eventually consistent (the API server's and celgate's params, namespaces and
    the discovery of a just-installed CRD): a case whose two answers differ is asked again, both
    sides, a few seconds apart, before its comparison stands. Each retry is printed."""
    outcomes = list(outcomes)
    for attempt in range(1, attempts + 1):
        pending = [i for i, outcome in enumerate(outcomes) if differ(outcome)]
        if not pending:
            break
        print(f"\ndifferential: {len(pending)} differing case(s) asked again (attempt {attempt}) after {pause:.0f} s")
        time.sleep(pause)
        for i in pending:
            outcomes[i] = redo(outcomes[i])
    return outcomes


def _namespaces(cluster, scenario: Scenario) -> dict[str, str]:
    created = {}
    for mode in ("native", "webhook"):
        ns = cluster.create_namespace(mode, scenario.labels, prefix=f"diff-{mode[0]}")
        for configmap in scenario.configmaps:
            cluster.kube.must("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap)
        created[mode] = ns
    return created


def _audit_by_id(cluster, wanted: set[str] | None = None) -> dict[str, dict]:
    """ResponseComplete events by audit ID; with ``wanted``, waited for (up to 10 s): the API
    server writes the last requests' events a moment after answering them."""
    deadline = time.monotonic() + 10
    while True:
        events = {event["auditID"]: event for event in cluster.audit_events()
                  if event.get("stage") == "ResponseComplete" and event.get("auditID")}
        if not wanted or wanted <= events.keys() or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


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
        outcomes = _settled(outcomes, lambda o: both(o[0]), lambda o: _differ(o[2], o[3], o[1]["native"], o[1]["webhook"]))
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


def _collections() -> list[Collection]:
    return third_party_collections() + [load_collection(LIMIT_CASES)]


@pytest.fixture(scope="module")
def collection_comparisons(cluster, webhook, tmp_path_factory) -> list[Comparison]:
    """Public policy collections (tests/fixtures/third_party/) and the limit cases, natively and
    through a second celgate holding only them (collection_run.py says how the two are kept
    apart; none of their bindings selects the objects of the other cases, nor the reverse)."""
    collections = _collections()
    kube = cluster.kube
    created = install_prerequisites(kube, collections)
    process = CelgateProcess(tmp_path_factory.mktemp("celgate-collections"),
                             [write_policy_dir(tmp_path_factory.mktemp("collection-policies"), collections)],
                             cluster.kubeconfig, workers=2)
    installed: list[dict] = []
    try:
        process.start()
        kube.apply(collections_webhook({"url": process.url, "caBundle": process.ca_bundle}))
        wait_for_webhook(kube, WEBHOOK_PREFIX)
        installed = install_native(kube, native_documents(collections),
                                   cluster.create_namespace("native", prefix="diff-probe"))
        settle()
        cases = [case for collection in collections for case in collection.cases]
        started = time.monotonic()

        def both(case):
            return case, {mode: kube.create(labelled(case, mode), case.namespace, dry_run=True)
                          for mode in ("native", "webhook")}

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(both, cases))
        outcomes = _settled(outcomes, lambda o: both(o[0]), lambda o: _differ(o[1]["native"], o[1]["webhook"]))
        elapsed = time.monotonic() - started
    finally:
        uninstall(kube, installed)
        kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", COLLECTIONS_WEBHOOK_CONFIG)
        process.stop()
        remove(kube, created)
    wanted = {side.audit_id for _, sides in outcomes for side in sides.values() if side.audit_id}
    audit = _audit_by_id(cluster, wanted) if cluster.has_audit_log else {}
    results = []
    for case, sides in outcomes:
        native = verdict(sides["native"], audit.get(sides["native"].audit_id), webhook=False)
        hooked = verdict(sides["webhook"], audit.get(sides["webhook"].audit_id), webhook=True)
        results.append(Comparison(Case(case.id, COLLECTION_SCENARIO, case.obj), native, hooked,
                                  differences(native, hooked)))
    print(f"\n{2 * len(cases)} dry-run creates of {len(collections)} policy collections in {elapsed:.1f} s")
    print(_oracle_lines(results, cases))
    return results


def _oracle_lines(results: list[Comparison], cases: list[CollectionCase]) -> str:
    """How often the API server met each library's own expectations (as the library's runner
    reads an answer), what it answered to each limit case, and every case it refused for a
    reason other than a policy (an invalid object)."""
    lines = []
    by_collection: dict[str, list[bool]] = {}
    for comparison, case in zip(results, cases):
        if case.expected is None:
            continue
        native = comparison.native
        policy_named = f"'{case.policy}'" in native.message or any(f"'{case.policy}'" in w for w in native.warnings)
        got = ("pass" if not policy_named else "warn") if native.allowed else ("fail" if policy_named else "other")
        by_collection.setdefault(case.id.split("/", 1)[0], []).append(got == case.expected)
    for name, met in by_collection.items():
        lines.append(f"{name}: the API server meets {sum(met)} of the library's {len(met)} expectations")
    for comparison in results:
        if comparison.native.category.startswith("failed"):  # refused by something other than a policy
            lines.append(f"{comparison.case.id}: API server {comparison.native.category}: {comparison.native.message}")
        elif comparison.case.id.startswith("limits/"):
            native = comparison.native
            lines.append(f"{comparison.case.id}: API server {native.category}"
                         + (f": {native.message}" if native.message else ""))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def comparisons(admission_comparisons, update_comparisons, validation_comparisons,
                collection_comparisons) -> list[Comparison]:
    return admission_comparisons + update_comparisons + validation_comparisons + collection_comparisons


def test_celgate_agrees_with_the_builtin_admission_policy_plugin(comparisons):
    report = Path(os.environ.get("CELGATE_E2E_DIFFERENTIAL_REPORT", "/tmp/celgate-e2e-differential.json"))
    names = [collection.name for collection in _collections()]
    summary = write_report(report, comparisons, names)
    print("\n" + render_table(comparisons, in_full=names))
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


def test_every_collection_was_exercised_both_ways(collection_comparisons):
    """Guards against a vacuous run: in each collection the API server admitted and denied."""
    outcomes: dict[str, set[bool]] = {}
    for comparison in collection_comparisons:
        outcomes.setdefault(comparison.case.id.split("/", 1)[0], set()).add(comparison.native.allowed)
    assert all(seen == {True, False} for seen in outcomes.values()), outcomes
