"""The command-line options ``celgate test``, ``scan`` and ``serve`` share."""

from __future__ import annotations

import pytest

from webhook.commands.options import UsageError, parse_namespace_labels


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], {}),
        (["shop="], {"shop": {}}),
        (["shop=env=prod,tier=web"], {"shop": {"env": "prod", "tier": "web"}}),
        (["shop=env=prod", "shop=tier=web"], {"shop": {"env": "prod", "tier": "web"}}),
        (["shop=note="], {"shop": {"note": ""}}),
        (["shop=k=a=b"], {"shop": {"k": "a=b"}}),
    ],
)
def test_namespace_labels_are_parsed_per_namespace(values: list[str], expected: dict) -> None:
    assert parse_namespace_labels(values) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("shop", "'shop': expected NAME=key=value[,key=value...]"),
        ("=env=prod", "'=env=prod': expected NAME=key=value[,key=value...]"),
        ("shop=env", "'shop=env': 'env' is not key=value"),
        ("shop==prod", "'shop==prod': '=prod' is not key=value"),
    ],
)
def test_malformed_namespace_labels_are_a_usage_error_naming_the_option(value: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_namespace_labels([value])
    assert str(raised.value) == f"--namespace-labels {message}"
