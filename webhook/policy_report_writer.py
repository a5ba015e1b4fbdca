"""Admission-time PolicyReports: Deny, Warn and Audit results written to the cluster.

The request path only enqueues (``record``: a few tuples, never I/O, dropped and counted when
the queue is full); one background thread per worker process flushes every ``interval``
seconds, at most ``max_writes`` report writes per flush, so the API server sees a bounded write
rate whatever the admission rate. A flush reads the namespace's report, merges by result key
(webhook/reporting/policy_report.py) and replaces it with its resourceVersion: a conflict with
another worker or replica is retried on the next flush, and a restarted webhook extends the
report it finds instead of duplicating it. Dry-run requests (the canary's, kubectl --dry-run)
are not recorded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from typing import Any

from webhook import metrics
from webhook.kube_rest import KubeREST
from webhook.policy.attributes import AdmissionAttributes
from webhook.policy.decision import AdmissionDecision
from webhook.reporting.policy_report import DEFAULT_MAX_RESULTS, ObjectRef, merge_results, report_object, report_result

log = logging.getLogger("celgate.policyreports")

REPORT_NAME = "celgate-admission"
RECORDED_RESULTS = ("deny", "warn", "audit")
_GROUP_PATH = "/apis/wgpolicyk8s.io/v1alpha2"


def _report_path(namespace: str | None, name: str | None = None) -> str:
    collection = f"{_GROUP_PATH}/namespaces/{namespace}/policyreports" if namespace else f"{_GROUP_PATH}/clusterpolicyreports"
    return f"{collection}/{name}" if name else collection


def write_report(rest: KubeREST, namespace: str | None, name: str, results: list[dict[str, Any]], *,
                 replace: bool, max_results: int = DEFAULT_MAX_RESULTS, passes: int = 0,
                 labels: dict[str, str] | None = None) -> int:
    """Create or update one report. ``replace``: the results become exactly these (a scan);
    otherwise they are merged into what is there (admission). Returns results dropped for space;
    raises KubeRESTError (a 409 conflict included) for the caller to retry."""
    existing = rest.get(_report_path(namespace, name))
    merged, dropped = merge_results([] if replace or existing is None else existing.get("results") or [], results, max_results)
    body = report_object(name, namespace, merged, labels=labels, passes=passes)
    if existing is None:
        rest.must("POST", _report_path(namespace), body)
    else:
        body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        rest.must("PUT", _report_path(namespace, name), body)
    return dropped


class PolicyReportRecorder:
    def __init__(self, rest: KubeREST, *, interval: float = 10.0, max_queue: int = 10000,
                 max_writes: int = 20, max_results: int = DEFAULT_MAX_RESULTS) -> None:
        self.rest = rest
        self.interval = interval
        self.max_writes = max_writes
        self.max_results = max_results
        self._queue: queue.Queue[tuple[str | None, dict[str, Any]]] = queue.Queue(maxsize=max_queue)
        self._pending: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        self._stop = threading.Event()
        self._missing_crd_logged = False
        self._thread = threading.Thread(target=self._run, name="policy-reports", daemon=True)

    def start(self) -> "PolicyReportRecorder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        self.flush()

    def record(self, attributes: AdmissionAttributes, decision: AdmissionDecision) -> None:
        """Called on the request path after deciding: enqueue, never block."""
        if attributes.dry_run:
            return
        recorded = [e for e in decision.evaluations if e.result in RECORDED_RESULTS]
        if not recorded:
            return
        obj = attributes.object or attributes.old_object or {}
        ref = ObjectRef(
            api_version=f"{attributes.kind.group}/{attributes.kind.version}" if attributes.kind.group else attributes.kind.version,
            kind=attributes.kind.kind, namespace=attributes.namespace, name=attributes.name,
            uid=str((obj.get("metadata") or {}).get("uid") or ""),
        )
        now = time.time()
        for evaluation in recorded:
            result = report_result(evaluation, ref, category="admission", timestamp=now,
                                   properties={"operation": attributes.operation, "allowed": str(decision.allowed).lower()})
            try:
                self._queue.put_nowait((attributes.namespace or None, result))
            except queue.Full:
                metrics.POLICY_REPORT_RESULTS.labels("dropped_queue_full").inc()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any single failure
                log.exception("policy report flush failed")

    def flush(self) -> None:
        while True:
            try:
                namespace, result = self._queue.get_nowait()
            except queue.Empty:
                break
            self._pending[namespace].append(result)
        for namespace in list(self._pending)[: self.max_writes]:
            results = self._pending.pop(namespace)
            try:
                dropped = write_report(self.rest, namespace, REPORT_NAME, results, replace=False,
                                       max_results=self.max_results)
            except Exception as exc:  # noqa: BLE001 - kept for the next flush, counted, logged
                status = getattr(getattr(exc, "reply", None), "status", 0)
                conflict = status == 409
                metrics.POLICY_REPORT_WRITES.labels("conflict" if conflict else "error").inc()
                if status == 404:  # the CRDs are not installed: say so once, keep nothing
                    metrics.POLICY_REPORT_RESULTS.labels("write_error").inc(len(results))
                    if not self._missing_crd_logged:
                        self._missing_crd_logged = True
                        log.warning("PolicyReports not written: the wgpolicyk8s.io CRDs are not installed "
                                    "(kubectl apply -k manifests/policy-reports, or --no-policy-reports)")
                    continue
                if len(results) <= self.max_results:
                    self._pending[namespace] = results + self._pending.get(namespace, [])
                else:
                    metrics.POLICY_REPORT_RESULTS.labels("write_error").inc(len(results))
                if not conflict:
                    log.warning("policy report for %s not written (will retry): %s", namespace or "(cluster)", exc)
                continue
            metrics.POLICY_REPORT_WRITES.labels("success").inc()
            metrics.POLICY_REPORT_RESULTS.labels("written").inc(len(results) - dropped)
            if dropped:
                metrics.POLICY_REPORT_RESULTS.labels("dropped_report_full").inc(dropped)
