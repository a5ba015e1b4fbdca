"""Test suites (celgate test --suite): the shipped suites pass, and a runner that cannot fail is no runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.suite import SuiteError, load_suite, render_table, run_suite

ROOT = Path(__file__).resolve().parents[1]
SUITES = sorted((ROOT / "tests/suites").glob("*.yaml"))
BAD_SUITES = ROOT / "tests/fixtures/cli/suites"


@pytest.mark.parametrize("path", SUITES, ids=[path.stem for path in SUITES])
def test_shipped_suite_passes(path: Path) -> None:
    suite = load_suite(path)
    outcomes = run_suite(suite)
    assert [o.case.name for o in outcomes if not o.passed] == [], render_table(suite, outcomes)
    assert len(outcomes) == len(suite.cases) >= 5


def test_wrong_expectations_fail_with_reasons() -> None:
    suite = load_suite(BAD_SUITES / "wrong-expectations.yaml")
    outcomes = run_suite(suite)
    problems = {o.case.name: o.problems for o in outcomes}
    assert not any(o.passed for o in outcomes)
    assert problems["privileged pod expected allowed"][0].startswith('expected allowed, got denied: pods "privileged-pod" is forbidden')
    assert "does not contain 'containers must run as non-root'" in problems["wrong denial message"][0]
    assert problems["missing warning"] == ("no warning contains 'pinned'; warnings: []",)
    assert problems["unexpected warning"][0].startswith("expected no warnings, got [\"Validation failed for")


def test_table_lists_every_case_and_totals() -> None:
    suite = load_suite(BAD_SUITES / "wrong-expectations.yaml")
    table = render_table(suite, run_suite(suite)).splitlines()
    assert table[1].split() == ["RESULT", "CASE", "GOT"]
    assert table[2].split()[0] == "FAIL" and table[2].endswith("denied")
    assert table[-1] == "  4 cases: 0 passed, 4 failed"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("unknown-key.yaml", "unknown key(s) expected"),
        ("two-documents.yaml", "holds 2 documents; pick one with document: N"),
        ("missing.yaml", "cannot read"),
    ],
)
def test_malformed_suites_are_rejected_with_the_file_and_reason(name: str, error: str) -> None:
    with pytest.raises(SuiteError) as raised:
        load_suite(BAD_SUITES / name)
    assert str(raised.value).startswith(str(BAD_SUITES / name))
    assert error in str(raised.value)
