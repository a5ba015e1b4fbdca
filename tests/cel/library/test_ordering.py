"""isGreaterThan / isLessThan / compareTo, declared once for Quantity and Semver (ordering.py)."""

from __future__ import annotations

import pytest

from kube_apiserver_cases import evaluate
from webhook.cel import CelEnvironment


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('quantity("1").isGreaterThan(quantity("999m"))', True),
        ('semver("1.0.0").isGreaterThan(semver("1.0.0-rc.1"))', True),
        ('quantity("1Ki").compareTo(quantity("1024"))', 0),
        ('semver("1.0.0-alpha").compareTo(semver("1.0.0-alpha.1"))', -1),
        # a dyn receiver reaches the shared implementation, which checks the types itself
        ('dyn(quantity("2")).isLessThan(dyn(quantity("3")))', True),
        ('dyn(semver("2.0.0")).compareTo(dyn(semver("10.0.0")))', -1),
    ],
)
def test_each_type_compares_its_own_values(env: CelEnvironment, expression: str, expected: object) -> None:
    assert evaluate(env, expression) == (expected, None)


@pytest.mark.parametrize(
    "expression",
    [
        'dyn(quantity("1")).isGreaterThan(dyn(semver("1.0.0")))',
        'dyn(ip("10.0.0.1")).compareTo(dyn(ip("10.0.0.2")))',
    ],
)
def test_mismatched_or_unordered_types_are_no_such_overload(env: CelEnvironment, expression: str) -> None:
    assert evaluate(env, expression) == (None, "no such overload")
