"""Hostile AdmissionReview bodies, in process and over HTTP: always an answer or a 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.fuzz import mutations
from tests.fuzz.profile import fuzz_settings
from tests.fuzz.seeds import review_for, seeds
from tests.fuzz.targets import POD_SECURITY, cluster, pod_security, review_target
from webhook.admission.review import ReviewError, parse_review
from webhook.policy_store import PolicyStore
from webhook.server import ServerState, create_app

BASE = json.loads(seeds("review")[0])


@pytest.fixture(autouse=True, scope="module")
def compiled_policies() -> None:
    pod_security()  # compiled before the first example's deadline starts


@st.composite
def mutated_reviews(draw: st.DrawFn) -> Any:
    review = BASE
    for _ in range(draw(st.integers(1, 3))):
        candidates = list(mutations.paths(review))
        path = draw(st.sampled_from(candidates))
        if path and draw(st.booleans()):
            review = mutations.deleted(review, path)
        else:
            review = mutations.replaced(review, path, draw(mutations.json_values))
    return review



@fuzz_settings(300)
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_4xx(body: bytes) -> None:
    review_target(body)


@fuzz_settings(300)
@given(mutated_reviews())
def test_mutated_reviews_are_decided_or_refused_with_a_4xx(review: Any) -> None:
    review_target(json.dumps(review).encode())


@fuzz_settings(200)
@given(mutations.json_values)
def test_whatever_json_the_object_holds_orjson_and_the_standard_library_agree(value: Any) -> None:
    body = json.dumps(review_for({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": value})).encode()
    try:
        parsed = parse_review(body)
    except ReviewError as error:
        assert error.status == 400
        return
    assert parsed.attributes.object == json.loads(body)["request"]["object"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    state = ServerState(store=PolicyStore([POD_SECURITY]), cluster=cluster())
    with TestClient(create_app(state)) as test_client:
        yield test_client


@fuzz_settings(150)
@given(body=st.one_of(st.binary(max_size=1000), mutated_reviews().map(lambda r: json.dumps(r).encode())),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]))
def test_over_http_no_caller_error_is_a_5xx(client: TestClient, body: bytes, content_type: str) -> None:
    answer = client.post("/validate", content=body, headers={"content-type": content_type})
    assert answer.status_code in (200, 400, 413, 415), answer.text
    payload = answer.json()
    if answer.status_code == 200:
        assert isinstance(payload["response"]["allowed"], bool)
        assert payload["response"].get("status", {}).get("code", 0) < 500, payload
    else:
        assert payload["kind"] == "Status" and payload["code"] == answer.status_code and payload["message"]


def test_over_http_the_deeply_nested_bodies_of_issue_13_are_400s(client: TestClient) -> None:
    head = b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": '
    for nested in (b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 5_000 + b"1" + b"}" * 5_000):
        answer = client.post("/validate", content=head + nested + b"}", headers={"content-type": "application/json"})
        assert answer.status_code == 400
        assert "deeper than 200 levels (MAX_NESTING_DEPTH)" in answer.json()["message"]
