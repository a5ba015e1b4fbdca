"""AdmissionReview bodies over webhook.limits get a 400 naming the limit; exactness is kept."""

from __future__ import annotations

import json

import pytest

from webhook.admission.review import ReviewError, parse_review
from webhook.limits import MAX_LIST_LENGTH, MAX_NESTING_DEPTH, MAX_STRING_LENGTH

HEAD = (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1", '
        b'"operation": "CREATE", "kind": {"version": "v1", "kind": "Pod"}, '
        b'"resource": {"version": "v1", "resource": "pods"}, "object": ')


def body_with(obj: bytes) -> bytes:
    return HEAD + obj + b"}}"


def refusal(body: bytes) -> ReviewError:
    with pytest.raises(ReviewError) as raised:
        parse_review(body)
    return raised.value


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "deeper than 200 levels (MAX_NESTING_DEPTH)"),
        (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "deeper than 200 levels (MAX_NESTING_DEPTH)"),
        (b"[" * 950 + b"]" * 950, "deeper than 200 levels (MAX_NESTING_DEPTH)"),  # orjson takes it, the check does not
        (b'{"a": "' + b"x" * (MAX_STRING_LENGTH + 1) + b'"}',
         "request body at request.object.a: a string of 1,572,865 characters is longer than the limit of 1,572,864 (MAX_STRING_LENGTH)"),
        (b'{"' + b"k" * (MAX_STRING_LENGTH + 1) + b'": 1}', "(MAX_STRING_LENGTH)"),
        (b'{"a": [' + b"0," * MAX_LIST_LENGTH + b"0]}",
         "request body at request.object.a: an array of 1,000,001 items is longer than the limit of 1,000,000 (MAX_LIST_LENGTH)"),
    ],
    ids=["100k-arrays", "5k-objects", "950-arrays", "long-string", "long-key", "long-list"],
)
def test_a_body_over_a_limit_is_a_400_naming_it(obj: bytes, message: str) -> None:
    error = refusal(body_with(obj))
    assert error.status == 400
    assert message in error.message


def test_nesting_at_the_limit_is_accepted() -> None:
    depth_inside_object = MAX_NESTING_DEPTH - 3  # body > request > object > ...
    parsed = parse_review(body_with(b'{"a": ' + b"[" * depth_inside_object + b"]" * depth_inside_object + b"}"))
    assert parsed.attributes.object is not None


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (b'{"a": NaN}', "request body is not valid JSON"),
        (b'{"a": Infinity}', "request body is not valid JSON"),
        (b'{"a": 1e400}', "request body is not valid JSON: number is infinity"),
        (b'{"a": "\\ud800"}', "request body is not valid JSON"),  # a lone surrogate
        (b'{"a": "\xff"}', "request body is not valid JSON"),  # not UTF-8
        (b'{"a": ' + b"1" * 5_000 + b"}", "request body is not valid JSON"),  # was a ValueError, a 500
    ],
)
def test_json_that_go_would_not_decode_is_a_400(obj: bytes, message: str) -> None:
    error = refusal(body_with(obj))
    assert (error.status, error.message.startswith(message)) == (400, True), error.message


@pytest.mark.parametrize(
    "number",
    [9223372036854775807, 9223372036854775808, 18446744073709551615, 18446744073709551617,
     -9223372036854775808, -9223372036854775809, 10**30],
)
def test_integers_beyond_int64_stay_exact(number: int) -> None:
    parsed = parse_review(body_with(json.dumps({"n": number, "pad": "x" * 10}).encode()))
    assert parsed.attributes.object == {"n": number, "pad": "x" * 10}
    assert type(parsed.attributes.object["n"]) is int


def test_a_duplicate_key_keeps_the_last_value_as_go_does() -> None:
    assert parse_review(body_with(b'{"a": 1, "a": 2}')).attributes.object == {"a": 2}


def test_unicode_survives() -> None:
    parsed = parse_review(body_with('{"name": "caf\\u00e9 \\ud83d\\ude00 ☃"}'.encode()))
    assert parsed.attributes.object == {"name": "café 😀 ☃"}
