"""What the commands share on their command lines: the usage error and the option parsers
``celgate test``, ``scan`` and ``serve`` all accept."""

from __future__ import annotations

from typing import Sequence


class UsageError(ValueError):
    """The command line cannot be acted on; the message says what to change."""


def parse_namespace_labels(values: Sequence[str]) -> dict[str, dict[str, str]]:
    """``NAME=k1=v1,k2=v2`` (repeatable) -> {NAME: {k1: v1, k2: v2}}; ``NAME=`` gives no extra labels."""
    namespaces: dict[str, dict[str, str]] = {}
    for value in values:
        name, separator, pairs = value.partition("=")
        if not name or not separator:
            raise UsageError(f"--namespace-labels {value!r}: expected NAME=key=value[,key=value...]")
        labels = namespaces.setdefault(name, {})
        for pair in filter(None, pairs.split(",")):
            key, equals, label = pair.partition("=")
            if not key or not equals:
                raise UsageError(f"--namespace-labels {value!r}: {pair!r} is not key=value")
            labels[key] = label
    return namespaces
