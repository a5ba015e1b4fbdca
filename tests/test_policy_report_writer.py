"""Admission-time PolicyReports: enqueue only on the request path, bounded queue, merged
writes with the resourceVersion, conflicts retried, no duplicates after a restart."""

from __future__ import annotations

from typing import Any

from webhook.admission.manifest import attributes_for_manifest
from webhook.kube_rest import KubeRESTError, Reply
from webhook.policy.decision import AdmissionDecision, PolicyEvaluation
from webhook.policy_report_writer import PolicyReportRecorder

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "team-a"}, "spec": {"containers": []}}
WARNED = AdmissionDecision(allowed=True, status=None, evaluations=(
    PolicyEvaluation("p", "p-warn", None, "warn", "careful"), PolicyEvaluation("q", "q", None, "admit")))


class FakeReports:
    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.conflict_next = False

    def get(self, path: str) -> dict[str, Any] | None:
        return self.stored.get(path)

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        if self.conflict_next:
            self.conflict_next = False
            raise KubeRESTError(method, path, Reply(409, {"message": "conflict"}))
        self.writes += 1
        name = body["metadata"]["name"]
        key = path if method == "PUT" else f"{path}/{name}"
        body["metadata"]["resourceVersion"] = str(self.writes)
        self.stored[key] = body
        return body


def test_warn_results_are_recorded_once_per_observation_even_after_a_restart():
    api = FakeReports()
    recorder = PolicyReportRecorder(api)  # type: ignore[arg-type]
    recorder.record(attributes_for_manifest(POD), WARNED)
    recorder.flush()
    (report,) = api.stored.values()
    assert report["kind"] == "PolicyReport" and report["metadata"]["namespace"] == "team-a"
    assert [(r["policy"], r["result"]) for r in report["results"]] == [("p", "warn")]
    restarted = PolicyReportRecorder(api)  # type: ignore[arg-type]
    restarted.record(attributes_for_manifest(POD), WARNED)
    restarted.flush()
    (report,) = api.stored.values()
    assert len(report["results"]) == 1


def test_a_conflict_is_retried_on_the_next_flush():
    api = FakeReports()
    recorder = PolicyReportRecorder(api)  # type: ignore[arg-type]
    recorder.record(attributes_for_manifest(POD), WARNED)
    api.conflict_next = True
    recorder.flush()
    assert api.stored == {}
    recorder.flush()
    assert len(next(iter(api.stored.values()))["results"]) == 1


def test_the_queue_is_bounded_and_dry_runs_and_admits_are_not_recorded():
    api = FakeReports()
    recorder = PolicyReportRecorder(api, max_queue=2)  # type: ignore[arg-type]
    for _ in range(5):
        recorder.record(attributes_for_manifest(POD), WARNED)
    assert recorder._queue.qsize() == 2
    dry = attributes_for_manifest(POD)
    object.__setattr__(dry, "dry_run", True)
    recorder.record(dry, WARNED)
    recorder.record(attributes_for_manifest(POD), AdmissionDecision(allowed=True, status=None))
    assert recorder._queue.qsize() == 2


def test_writes_per_flush_are_bounded():
    api = FakeReports()
    recorder = PolicyReportRecorder(api, max_writes=2)  # type: ignore[arg-type]
    for index in range(5):
        pod = {**POD, "metadata": {"name": "web", "namespace": f"ns-{index}"}}
        recorder.record(attributes_for_manifest(pod), WARNED)
    recorder.flush()
    assert api.writes == 2
    recorder.flush()
    recorder.flush()
    assert api.writes == 5


def test_missing_crds_drop_the_results_and_are_logged_once(caplog):
    class NoCRDs(FakeReports):
        def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
            raise KubeRESTError(method, path, Reply(404, {"message": "the server could not find the requested resource"}))

    recorder = PolicyReportRecorder(NoCRDs())  # type: ignore[arg-type]
    for _ in range(3):
        recorder.record(attributes_for_manifest(POD), WARNED)
        recorder.flush()
    assert recorder._pending == {}
    assert sum("CRDs are not installed" in r.getMessage() for r in caplog.records) == 1
