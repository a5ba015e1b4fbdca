"""The Kubernetes semver library (version 1, with ``normalize``).

Upstream cases: apiserver v0.35.0 pkg/cel/library/semver_test.go (TestSemver). Recorded
cases: semver_kube_apiserver.jsonl (see kube_apiserver_cases.py).
"""

from __future__ import annotations

import pytest

from kube_apiserver_cases import evaluate, mismatches
from webhook.cel import CelCompileError, CelEnvironment
from webhook.cel.values import CelTypeValue, OpaqueValue


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment({})


# (name, expression, expected result) from TestSemver.
UPSTREAM_VALUES = [
    ("isSemver", 'isSemver("1.2.3-beta.1+build.1")', True),
    ("isSemver_empty_false", 'isSemver("")', False),
    ("isSemver_v_prefix_false", 'isSemver("v1.0.0")', False),
    ("isSemver_v_leading_whitespace_false", 'isSemver(" 1.0.0")', False),
    ("isSemver_v_contains_whitespace_false", 'isSemver("1. 0.0")', False),
    ("isSemver_v_trailing_whitespace_false", 'isSemver("1.0.0 ")', False),
    ("isSemver_leading_zeros_false", 'isSemver("01.01.01")', False),
    ("isSemver_major_only_false", 'isSemver("1")', False),
    ("isSemver_major_minor_only_false", 'isSemver("1.1")', False),
    ("isSemver_empty_normalize_false", 'isSemver("", true)', False),
    ("isSemver_v_leading_whitespace_normalize_false", 'isSemver(" 1.0.0", true)', False),
    ("isSemver_v_contains_whitespace_normalize_false", 'isSemver("1. 0.0", true)', False),
    ("isSemver_v_trailing_whitespace_normalize_false", 'isSemver("1.0.0 ", true)', False),
    ("isSemver_v_prefix_normalize_true", 'isSemver("v1.0.0", true)', True),
    ("isSemver_leading_zeros_normalize_true", 'isSemver("01.01.01", true)', True),
    ("isSemver_major_only_normalize_true", 'isSemver("1", true)', True),
    ("isSemver_major_minor_only_normalize_true", 'isSemver("1.1", true)', True),
    ("equality_normalize", 'semver("v01.01", true) == semver("1.1.0")', True),
    ("equality_reflexivity", 'semver("1.2.3") == semver("1.2.3")', True),
    ("inequality", 'semver("1.2.3") == semver("1.0.0")', False),
    ("semver_less", 'semver("1.0.0").isLessThan(semver("1.2.3"))', True),
    ("semver_less_false", 'semver("1.0.0").isLessThan(semver("1.0.0"))', False),
    ("semver_greater", 'semver("1.2.3").isGreaterThan(semver("1.0.0"))', True),
    ("semver_greater_false", 'semver("1.0.0").isGreaterThan(semver("1.0.0"))', False),
    ("compare_equal", 'semver("1.2.3").compareTo(semver("1.2.3"))', 0),
    ("compare_less", 'semver("1.0.0").compareTo(semver("1.2.3"))', -1),
    ("compare_greater", 'semver("1.2.3").compareTo(semver("1.0.0"))', 1),
    ("major", 'semver("1.2.3").major()', 1),
    ("minor", 'semver("1.2.3").minor()', 2),
    ("patch", 'semver("1.2.3").patch()', 3),
]


@pytest.mark.parametrize(("name", "expression", "expected"), UPSTREAM_VALUES, ids=[c[0] for c in UPSTREAM_VALUES])
def test_upstream_semver_case(env: CelEnvironment, name: str, expression: str, expected: object) -> None:
    result, error = evaluate(env, expression)
    assert error is None
    assert result == expected and type(result) is type(expected)


def test_parse(env: CelEnvironment) -> None:
    assert env.compile('semver("1.2.3")').evaluate({}) == OpaqueValue("kubernetes.Semver", "1.2.3", "1.2.3")


def test_parse_invalid_version(env: CelEnvironment) -> None:
    assert evaluate(env, 'semver("v1.0")') == (None, "No Major.Minor.Patch elements found")


def test_is_semver_of_a_list_does_not_compile(env: CelEnvironment) -> None:
    with pytest.raises(CelCompileError, match="found no matching overload for 'isSemver' applied to"):
        env.compile("isSemver([1, 2, 3])")


def test_type_of_a_semver_is_kubernetes_semver(env: CelEnvironment) -> None:
    assert env.compile('type(semver("1.2.3")) == kubernetes.Semver').evaluate({}) is True
    assert env.compile('type(semver("1.2.3"))').evaluate({}) == CelTypeValue("kubernetes.Semver")


def test_equality_ignores_build_metadata(env: CelEnvironment) -> None:
    # semver.go Semver.Equal is Version.EQ, which compares without build metadata.
    assert env.compile('semver("1.2.3+a") == semver("1.2.3+b")').evaluate({}) is True
    assert env.compile('semver("1.2.3-a") == semver("1.2.3-b")').evaluate({}) is False


def test_short_normalized_version_cannot_carry_a_prerelease(env: CelEnvironment) -> None:
    assert evaluate(env, 'semver("1.2-beta", true)') == (None, "short version cannot contain PreRelease/Build meta data")


def test_parts_above_int64_wrap_like_cel_go(env: CelEnvironment) -> None:
    # semverlib.go returns types.Int(v.Major) of a uint64.
    assert evaluate(env, 'semver("18446744073709551615.0.0").major()') == (-1, None)


def test_matches_kube_apiserver(env: CelEnvironment) -> None:
    assert mismatches(env, "semver") == []
