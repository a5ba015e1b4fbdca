"""Prometheus metrics for the webhook, the scanner and the canary.

The per-policy series have kube-apiserver's shapes exactly
(staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/metrics/metrics.go, v1.35):
``celgate_validating_admission_policy_check_total`` and ``..._check_duration_seconds`` carry
``policy``, ``policy_binding``, ``error_type`` and ``enforcement_action`` with the same values and
the same buckets, so one dashboard serves both by swapping the prefix. They are read from the
``PolicyCheck`` observations the dispatcher records, never recomputed here. Every label value is
bounded: policy and binding names, enumerations, namespaces — never an object name — and the
request's resource is capped (``resource_label``).
With several worker processes the metrics are aggregated through prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import os
import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from webhook.policy.decision import AdmissionDecision

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ADMISSION_REQUESTS = Counter(
    "celgate_admission_requests_total",
    "AdmissionReview requests answered, by operation, resource and verdict.",
    ["operation", "resource", "allowed"],
)
ADMISSION_DURATION = Histogram(
    "celgate_admission_duration_seconds",
    "Time to decide one AdmissionReview (policy evaluation only).",
    ["operation", "resource"],
    buckets=_BUCKETS,
)
# kube-apiserver's buckets for this histogram (metrics.go), kept so quantiles compare.
_CHECK_BUCKETS = (0.0000005, 0.001, 0.01, 0.1, 1.0)
_CHECK_LABELS = ["policy", "policy_binding", "error_type", "enforcement_action"]
POLICY_CHECKS = Counter(
    "celgate_validating_admission_policy_check",
    "Validation admission policy check total, labeled by policy and further identified by binding and enforcement action taken.",
    _CHECK_LABELS,
)
POLICY_CHECK_DURATION = Histogram(
    "celgate_validating_admission_policy_check_duration_seconds",
    "Validation admission latency for individual validation expressions in seconds, labeled by policy and further including binding and enforcement action taken.",
    _CHECK_LABELS,
    buckets=_CHECK_BUCKETS,
)
# celgate's own: the apiserver's error_type cannot tell a runtime error under failurePolicy Fail
# from a failed validation (both are invalid_error), and an alert on policy errors needs to.
POLICY_ERRORS = Counter(
    "celgate_policy_evaluation_errors",
    "Evaluations that ended in an error (denied under failurePolicy Fail or admitted under Ignore), by policy and binding.",
    ["policy", "policy_binding", "failure_policy_action"],
)
IN_FLIGHT = Gauge(
    "celgate_admission_requests_in_flight",
    "AdmissionReview requests received and not yet answered.",
    multiprocess_mode="livesum",
)
CLUSTER_CACHE_SYNCED = Gauge(
    "celgate_cluster_cache_synced",
    "1 once the Namespace and param informers have listed (always 1 without a cluster).",
    multiprocess_mode="livemin",
)
DECISION_LOG_SAMPLED_OUT = Counter(
    "celgate_decision_log_sampled_out",
    "Allowed decisions not logged because of --log-allowed-sample-rate (denials are always logged).",
)
POLICY_REPORT_RESULTS = Counter(
    "celgate_policy_report_results",
    "Admission-time PolicyReport results, by what happened to them (written, dropped_queue_full, dropped_report_full, write_error).",
    ["outcome"],
)
POLICY_REPORT_WRITES = Counter(
    "celgate_policy_report_writes",
    "PolicyReport create/update calls to the API server, by result (success, conflict, error).",
    ["result"],
)
# celgate scan --serve: compliance of what already runs.
SCAN_VIOLATIONS = Gauge(
    "celgate_scan_violations",
    "Objects failing a policy in the last scan, by policy, namespace and the binding's enforcement action.",
    ["policy", "namespace", "enforcement_action"],
    multiprocess_mode="livemax",
)
SCAN_OBJECTS = Gauge(
    "celgate_scan_objects",
    "Objects evaluated by the last scan, by resource.",
    ["resource"],
    multiprocess_mode="livemax",
)
SCAN_LAST_SUCCESS = Gauge(
    "celgate_scan_last_success_timestamp_seconds",
    "When the last scan completed (Unix time).",
    multiprocess_mode="livemax",
)
SCAN_DURATION = Gauge(
    "celgate_scan_duration_seconds",
    "How long the last scan took.",
    multiprocess_mode="livemax",
)
SCAN_FAILURES = Counter("celgate_scan_failures", "Scans that could not complete (API errors).")
# celgate canary
CANARY_SUCCESS = Gauge(
    "celgate_canary_success",
    "1 if the last canary run saw celgate deny the known-bad Pod and admit the known-good one, else 0.",
    multiprocess_mode="livemin",
)
CANARY_LAST_SUCCESS = Gauge(
    "celgate_canary_last_success_timestamp_seconds",
    "When the canary last passed (Unix time).",
    multiprocess_mode="livemax",
)
CANARY_LAST_RUN = Gauge(
    "celgate_canary_last_run_timestamp_seconds",
    "When the canary last ran, passed or not (Unix time).",
    multiprocess_mode="livemax",
)
BAD_REQUESTS = Counter(
    "celgate_bad_requests_total",
    "Requests rejected before evaluation (malformed, too large, wrong content type, too slow).",
    ["reason"],
)
SHED_REQUESTS = Counter(
    "celgate_admission_requests_shed",
    "AdmissionReview requests answered 429 Too Many Requests at once because the worker already had "
    "--max-in-flight requests (its share) in flight.",
)
MAX_IN_FLIGHT = Gauge(
    "celgate_admission_max_in_flight",
    "Requests admitted at once before new ones are shed (the sum of the workers' shares of --max-in-flight).",
    multiprocess_mode="livesum",
)
EVALUATION_TIMEOUTS = Counter(
    "celgate_evaluation_timeouts_total",
    "Requests whose evaluation missed the deadline and failed closed.",
)
POLICY_RELOADS = Counter(
    "celgate_policy_reloads_total",
    "Policy set reload attempts by result (success, failure).",
    ["result"],
)
POLICY_SET_VALID = Gauge(
    "celgate_policy_set_last_reload_success",
    "1 if the last policy reload succeeded, 0 if the last good set is being served after a failed one.",
    multiprocess_mode="livemin",
)
POLICY_SET_GENERATION = Gauge(
    "celgate_policy_set_generation",
    "Generation of the policy set in force (increments on every successful reload).",
    multiprocess_mode="livemax",
)
POLICIES_LOADED = Gauge(
    "celgate_policies_loaded",
    "Number of ValidatingAdmissionPolicies in force.",
    multiprocess_mode="livemax",
)
TLS_RELOADS = Counter("celgate_tls_certificate_reloads_total", "Serving certificate reloads.")
TLS_NOT_AFTER = Gauge(
    "celgate_tls_certificate_expiry_timestamp_seconds",
    "Expiry of the serving certificate in force (Unix time).",
    multiprocess_mode="livemin",
)


# ``resource`` is the one label a caller names: anyone who reaches the port could send a new
# value per request and grow the series without bound. Past this many distinct values per
# process, and for a value that is no resource name at all, the label reads "other".
MAX_RESOURCE_LABELS = 256
OTHER_RESOURCE = "other"
_RESOURCE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_resource_labels: set[str] = set()


def resource_label(resource: str) -> str:
    if resource in _resource_labels:
        return resource
    if len(_resource_labels) >= MAX_RESOURCE_LABELS or not _RESOURCE_NAME.fullmatch(resource):
        return OTHER_RESOURCE
    _resource_labels.add(resource)
    return resource


def record_decision(operation: str, resource: str, decision: AdmissionDecision) -> None:
    resource = resource_label(resource)
    ADMISSION_REQUESTS.labels(operation, resource, str(decision.allowed).lower()).inc()
    ADMISSION_DURATION.labels(operation, resource).observe(decision.elapsed_seconds)
    for evaluation in decision.evaluations:
        if evaluation.result == "error" or evaluation.ignored_error:
            POLICY_ERRORS.labels(evaluation.policy, evaluation.binding, "allow" if evaluation.ignored_error else "deny").inc()
        for check in evaluation.checks:
            labels = (evaluation.policy, evaluation.binding, check.error_type, check.enforcement_action)
            POLICY_CHECKS.labels(*labels).inc()
            POLICY_CHECK_DURATION.labels(*labels).observe(check.elapsed_seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page, aggregated over worker processes when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
