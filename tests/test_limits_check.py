"""check_json_value: plain JSON within webhook.limits, or LimitExceeded naming the limit and path."""

from __future__ import annotations

import datetime

import pytest

from webhook.limits import (
    MAX_LIST_LENGTH,
    MAX_NESTING_DEPTH,
    MAX_STRING_LENGTH,
    LimitExceeded,
    check_json_value,
)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_up_to_the_limit_passes_and_one_more_fails() -> None:
    check_json_value(nested(MAX_NESTING_DEPTH), "doc")
    with pytest.raises(LimitExceeded) as raised:
        check_json_value(nested(MAX_NESTING_DEPTH + 1), "doc")
    assert raised.value.limit == "MAX_NESTING_DEPTH"


@pytest.mark.parametrize(
    ("value", "limit", "message"),
    [
        ({"spec": {"x": "a" * (MAX_STRING_LENGTH + 1)}}, "MAX_STRING_LENGTH", "doc at spec.x: a string of"),
        ({"items": [[0] * (MAX_LIST_LENGTH + 1)]}, "MAX_LIST_LENGTH", "doc at items[0]: an array of 1,000,001 items"),
        ({"a": [1, float("nan")]}, "JSON", "doc at a[1]: nan is not a JSON number"),
        ({"a": {"when": datetime.date(2024, 1, 1)}}, "JSON", "doc at a.when: a date value has no JSON form"),
        ({"a": {1: "x"}}, "JSON", "object keys must be strings"),
        ({"a": b"bytes"}, "JSON", "a bytes value has no JSON form"),
    ],
)
def test_values_over_a_limit_or_not_json_are_refused_with_their_path(value, limit: str, message: str) -> None:
    with pytest.raises(LimitExceeded) as raised:
        check_json_value(value, "doc")
    assert raised.value.limit == limit
    assert message in raised.value.message


def test_a_short_text_skips_the_length_checks_it_cannot_fail() -> None:
    check_json_value({"a": "x" * (MAX_STRING_LENGTH + 1)}, "doc", largest_possible=100)
