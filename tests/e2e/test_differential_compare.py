"""The comparison rules of differential.py, without a cluster (runs in the default suite)."""

from __future__ import annotations

import json

import pytest

from admission_request import AdmissionOutcome, parse_warnings
from differential import differences, policy_message, verdict

WEBHOOK = 'admission webhook "validate.celgate.io" denied the request: '
FORBIDDEN = 'pods "p" is forbidden: '


def denial(policy: str, message: str, binding_suffix: str = "enforce") -> str:
    return f"ValidatingAdmissionPolicy '{policy}' with binding '{policy}-{binding_suffix}' denied request: {message}"


def warning(policy: str, message: str) -> str:
    return f"Validation failed for ValidatingAdmissionPolicy '{policy}' with binding '{policy}-warn': {message}"


def failure(policy: str, message: str) -> str:
    return json.dumps([{"message": message, "policy": policy, "binding": f"{policy}-audit",
                        "expressionIndex": 0, "validationActions": ["Audit"]}])


def outcome(message: str = "", warnings: tuple[str, ...] = (), status: int = 403) -> AdmissionOutcome:
    if not message:
        return AdmissionOutcome(201, {}, warnings)
    return AdmissionOutcome(status, {"message": message, "reason": "Forbidden"}, warnings)


def native_event(annotations: dict[str, str]) -> dict:
    return {"annotations": {"authorization.k8s.io/decision": "allow", **annotations}}


def webhook_event(annotations: dict[str, str]) -> dict:
    return {"annotations": {f"validate.celgate.io/{k}": v for k, v in annotations.items()}}


def compare(native_outcome, webhook_outcome, native_audit=None, webhook_audit=None):
    native = verdict(native_outcome, native_event(native_audit or {}), webhook=False, namespace="diff-n-1")
    hooked = verdict(webhook_outcome, webhook_event(webhook_audit or {}), webhook=True, namespace="diff-w-2")
    return differences(native, hooked)


@pytest.mark.parametrize("raw, expected", [
    ('299 - "plain"', ("plain",)),
    ('299 - "with \\"quotes\\" and \\\\ slash"', ('with "quotes" and \\ slash',)),
    ('299 - "one", 299 - "two"', ("one", "two")),
])
def test_warning_headers_are_unquoted(raw, expected):
    assert parse_warnings([raw]) == expected


def test_the_prefix_each_mode_adds_is_cut_off():
    message = denial("p", "no")
    assert policy_message(FORBIDDEN + message) == policy_message(WEBHOOK + message) == message
    assert policy_message("something else") == "something else"


def test_identical_answers_agree():
    warnings = (warning("a", "x"),)
    assert compare(outcome(FORBIDDEN + denial("a", "x"), warnings), outcome(WEBHOOK + denial("a", "x"), warnings)) == ()


def test_a_different_verdict_differs():
    (found,) = compare(outcome(FORBIDDEN + denial("a", "x")), outcome())[:1]
    assert found.startswith("verdict: native denied, celgate allowed")


def test_another_denial_the_plugin_also_found_is_equivalent():
    warnings = (warning("a", "x"), warning("b", "y"))
    assert compare(outcome(FORBIDDEN + denial("a", "x"), warnings), outcome(WEBHOOK + denial("b", "y"), warnings)) == ()


def test_a_denial_the_plugin_did_not_find_differs():
    warnings = (warning("a", "x"),)
    found = compare(outcome(FORBIDDEN + denial("a", "x"), warnings), outcome(WEBHOOK + denial("a", "other"), warnings))
    assert [f.split(":")[0] for f in found] == ["message"]


def test_warnings_compare_as_a_multiset():
    assert compare(outcome(warnings=("a", "b")), outcome(warnings=("b", "a"))) == ()
    (found,) = compare(outcome(warnings=("a", "a")), outcome(warnings=("a",)))
    assert "native only:  a" in found


def test_namespace_names_do_not_count():
    assert compare(outcome(FORBIDDEN + denial("a", "in diff-n-1")), outcome(WEBHOOK + denial("a", "in diff-w-2"))) == ()


def test_audit_keys_read_slash_as_underscore():
    key = "validation.policy.admission.k8s.io/validation_failure"
    value = failure("a", "x")
    assert compare(outcome(warnings=(warning("a", "x"),)), outcome(warnings=(warning("a", "x"),)),
                   {key: value}, {key.replace("/", "_"): value}) == ()


def test_a_missing_audit_annotation_differs():
    key = "validation.policy.admission.k8s.io/validation_failure"
    (found,) = compare(outcome(), outcome(), {key: failure("a", "x")}, {})
    assert found.startswith("audit annotations")


def test_another_audit_failure_the_plugin_also_found_is_equivalent():
    key = "validation.policy.admission.k8s.io/validation_failure"
    warnings = (warning("a", "x"), warning("b", "y"))
    assert compare(outcome(warnings=warnings), outcome(warnings=warnings),
                   {key: failure("a", "x")}, {key.replace("/", "_"): failure("b", "y")}) == ()
