"""AdmissionReview parsing: every malformed request is a ReviewError with a 4xx and a message."""

from __future__ import annotations

import json

import pytest

from webhook.admission.review import ReviewError, parse_review, review_response, webhook_annotation_key
from webhook.policy.decision import AdmissionDecision, AdmissionStatus


def review(**request_overrides: object) -> dict:
    request = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web",
        "namespace": "team-a",
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["devs"], "extra": {"scopes": ["a"]}},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}},
    }
    request.update(request_overrides)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def test_a_valid_review_becomes_attributes() -> None:
    parsed = parse_review(body(review(subResource="status", dryRun=True)))
    attributes = parsed.attributes
    assert parsed.uid == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert attributes.kind.kind == "Pod"
    assert attributes.resource.resource == "pods"
    assert attributes.sub_resource == "status"
    assert attributes.namespace == "team-a"
    assert attributes.user_info.username == "alice"
    assert attributes.user_info.groups == ("devs",)
    assert attributes.user_info.extra == {"scopes": ("a",)}
    assert attributes.dry_run is True
    assert attributes.effective_request_kind == attributes.kind


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"\xff\xfe", "request body is not valid JSON"),
        (b"[]", "body: expected an object, got array"),
        (body({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}),
         "expected apiVersion 'admission.k8s.io/v1' and kind 'AdmissionReview', got apiVersion 'admission.k8s.io/v1beta1'"),
        (body({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}), "got apiVersion 'admission.k8s.io/v1' and kind 'Pod'"),
        (body({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}), "request: required field is missing"),
        (body(review(uid=None)), "request.uid: required field is missing"),
        (body(review(uid="")), "request.uid: must not be empty"),
        (body(review(uid=7)), "request.uid: expected a string, got number"),
        (body(review(operation="PATCH")), "request.operation: unsupported value 'PATCH'"),
        (body(review(kind=None)), "request.kind: required field is missing"),
        (body(review(resource={"group": "", "version": "v1"})), "request.resource.resource: required field is missing"),
        (body(review(object=[1])), "request.object: expected an object, got array"),
        (body(review(userInfo={"groups": "devs"})), "request.userInfo.groups: expected an array of strings"),
        (body(review(dryRun="yes")), "request.dryRun: expected a boolean"),
    ],
)
def test_malformed_reviews_are_rejected_with_a_message(raw: bytes, message: str) -> None:
    with pytest.raises(ReviewError) as caught:
        parse_review(raw)
    assert message in caught.value.message
    assert caught.value.status == 400


def test_a_denial_carries_status_warnings_and_audit_annotations() -> None:
    decision = AdmissionDecision(
        allowed=False,
        status=AdmissionStatus(403, "Forbidden", "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no"),
        warnings=("careful",),
        audit_annotations={"p/key": "value"},
    )
    answer = review_response("uid-1", decision)
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"] == {
        "uid": "uid-1",
        "allowed": False,
        "status": {
            "metadata": {},
            "status": "Failure",
            "code": 403,
            "reason": "Forbidden",
            "message": "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no",
        },
        "warnings": ["careful"],
        "auditAnnotations": {"p_key": "value"},
    }


def test_an_allowed_request_has_no_status() -> None:
    answer = review_response("uid-2", AdmissionDecision(allowed=True, status=None))
    assert answer["response"] == {"uid": "uid-2", "allowed": True}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("validation.policy.admission.k8s.io/validation_failure", "validation.policy.admission.k8s.io_validation_failure"),
        ("my-policy/high-replica-count", "my-policy_high-replica-count"),
    ],
)
def test_audit_annotation_keys_become_valid_webhook_keys(key: str, expected: str) -> None:
    assert webhook_annotation_key(key) == expected


def test_a_long_audit_annotation_key_is_shortened_to_a_qualified_name() -> None:
    key = "a-policy-with-a-very-long-name-that-goes-on-and-on-and-on/and-a-long-key"
    name = webhook_annotation_key(key)
    assert len(name) <= 63
    assert name.startswith("a-policy-with-a-very-long-name")
    assert name != webhook_annotation_key(key + "2")
