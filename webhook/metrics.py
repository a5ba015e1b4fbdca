"""Prometheus metrics for the webhook.

Names follow the apiserver's own VAP metrics where one exists
(``apiserver_validating_admission_policy_check_total`` -> ``celgate_policy_check_total``), so
dashboards for the built-in VAP translate. With several worker processes the metrics are
aggregated through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import os

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
POLICY_CHECKS = Counter(
    "celgate_policy_check_total",
    "Policy evaluations by policy, binding and result (admit, deny, warn, audit, error).",
    ["policy", "binding", "result"],
)
POLICY_CHECK_DURATION = Histogram(
    "celgate_policy_check_duration_seconds",
    "Time to evaluate one policy through one binding.",
    ["policy", "binding"],
    buckets=_BUCKETS,
)
BAD_REQUESTS = Counter(
    "celgate_bad_requests_total",
    "Requests rejected before evaluation (malformed, too large, wrong content type, too slow).",
    ["reason"],
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


def record_decision(operation: str, resource: str, decision: AdmissionDecision) -> None:
    ADMISSION_REQUESTS.labels(operation, resource, str(decision.allowed).lower()).inc()
    ADMISSION_DURATION.labels(operation, resource).observe(decision.elapsed_seconds)
    for evaluation in decision.evaluations:
        if evaluation.result == "skip":
            continue
        POLICY_CHECKS.labels(evaluation.policy, evaluation.binding, evaluation.result).inc()
        POLICY_CHECK_DURATION.labels(evaluation.policy, evaluation.binding).observe(evaluation.elapsed_seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page, aggregated over worker processes when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
