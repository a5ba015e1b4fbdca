"""kubescape/cel-admission-library's own test cases (controls/*/tests.json), with the library
authors' expectations, judged by celgate on the ``celgate test`` path.

The expectations are oracle data written by the library's authors, not ours: a failure here
says celgate disagrees with them (and, as the e2e differential shows, with kube-apiserver,
which meets all of them). Cases listed in known-differences.yaml are expected to fail until
the cause named there is fixed (strict: a listed case that agrees fails the run).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from library_verdicts import judge, policy_set
from policy_collections import THIRD_PARTY, load_collection

COLLECTION = load_collection(THIRD_PARTY / "kubescape-cel-admission-library")
POLICIES = policy_set(COLLECTION)
KNOWN = set(yaml.safe_load((Path(__file__).parent / "known-differences.yaml").read_text()) or [])
LIBRARY_CASES = [case for case in COLLECTION.cases if case.expected is not None]


def test_every_library_case_is_loaded():
    # 60 controls' tests.json; counted from the library's files at the commit in SOURCE.
    assert len(LIBRARY_CASES) == 628
    assert len(COLLECTION.policies) == 67


def test_the_known_differences_are_library_cases():
    assert KNOWN <= {case.id for case in LIBRARY_CASES}


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case.id, marks=[pytest.mark.xfail(strict=True, reason="known celgate difference (known-differences.yaml)")]
                 if case.id in KNOWN else [])
    for case in LIBRARY_CASES
])
def test_celgate_meets_the_library_expectation(case):
    verdict = judge(COLLECTION, POLICIES, case)
    status = verdict.result.status
    assert verdict.got == case.expected, status.message if status else verdict.result.decision.warnings
