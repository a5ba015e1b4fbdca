"""What the check metrics observe, per evaluation, as kube-apiserver's dispatcher.go does:
each failed validation once per validationAction, an error swallowed by failurePolicy Ignore
as allow, nothing for a passing validation; error_type as validating/errors.go derives it."""

from __future__ import annotations

from pathlib import Path

from webhook.admission.manifest import attributes_for_manifest
from webhook.policy.cluster_data import OfflineClusterData
from webhook.policy.dispatcher import _error_type, decide
from webhook.policy.loader import load_policy_set

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "metrics" / "policies.yaml"
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def _checks() -> dict[str, list[tuple[str, str]]]:
    decision = decide(load_policy_set([FIXTURE]), attributes_for_manifest(POD), OfflineClusterData())
    return {e.policy: [(c.enforcement_action, c.error_type) for c in e.checks] for e in decision.evaluations}


def test_each_failed_validation_is_observed_once_per_action():
    checks = _checks()
    assert checks["two-failing"] == [("warn", "invalid_error"), ("audit", "invalid_error")] * 2
    assert checks["denying"] == [("deny", "invalid_error"), ("audit", "invalid_error")]


def test_a_passing_validation_is_not_observed_and_an_ignored_error_is_allow():
    checks = _checks()
    assert checks["passing"] == []
    assert checks["erroring"] == [("allow", "invalid_error")]


def test_error_types_follow_the_message_prefixes_upstream_reads():
    assert _error_type("admit", "") == "no_error"
    assert _error_type("error", "compilation failed: ERROR: <input>:1:1") == "compile_error"
    assert _error_type("error", "validation failed due to running out of cost budget, no further validation rules will be run") == "out_of_budget"
    assert _error_type("deny", "failed expression: false") == "invalid_error"
