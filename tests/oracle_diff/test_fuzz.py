"""Differential fuzzing: seeded expressions and policies through celgate and the cel-go oracle.

Every expression goes through ``celgate eval --batch``'s code and the oracle's ``expr`` mode;
every policy through ``webhook.policy.dispatcher.decide`` and the oracle's ``policy`` mode.
Value, error kind and error message must agree, or the disagreement must be a documented
difference (webhook/cel/compat.py) or a class in disagreements.KNOWN_AND_BEING_FIXED.

The bounded run uses a fixed seed; a longer one (see tests/oracle/README.md):
    CELGATE_FUZZ_SEED=7 CELGATE_FUZZ_EXPRESSIONS=200000 CELGATE_FUZZ_POLICIES=20000 \\
        python -m pytest -q -p no:cacheprovider tests/oracle_diff/test_fuzz.py
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path
from typing import Any

import pytest

from agreement import Disagreement, expression_disagreement, policy_disagreement
from celgate_side import evaluate_expressions, evaluate_policy
from disagreements import classify
from fuzz_cases import expression_cases, policy_cases
from oracle_process import run_oracle

SEED = int(os.environ.get("CELGATE_FUZZ_SEED", "20260412"))
EXPRESSIONS = int(os.environ.get("CELGATE_FUZZ_EXPRESSIONS", "15000"))
POLICIES = int(os.environ.get("CELGATE_FUZZ_POLICIES", "1200"))
_CHUNK = 2000


def _report(kind: str, disagreements: list[Disagreement], total: int) -> list[str]:
    """Counts per class on stdout; the unexplained ones, in full, are returned."""
    classes: collections.Counter[str] = collections.Counter()
    unexplained = []
    for d in disagreements:
        named = classify(d)
        if named is None:
            unexplained.append(d.describe())
        else:
            classes[named[0]] += 1
    print(f"\n{kind}: {total} cases (seed {SEED}), {len(disagreements)} disagreements: "
          f"{dict(classes)}, unexplained {len(unexplained)}")
    path = os.environ.get("CELGATE_FUZZ_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as report:
            for d in disagreements:
                named = classify(d)
                report.write(json.dumps({"class": named[0] if named else None, "case": d.case,
                                         "celgate": d.celgate, "oracle": d.oracle}, ensure_ascii=False) + "\n")
    return unexplained


def test_generated_expressions_agree_with_cel_go(oracle: Path) -> None:
    cases = list(expression_cases(SEED, EXPRESSIONS))
    disagreements: list[Disagreement] = []
    for start in range(0, len(cases), _CHUNK):
        chunk = cases[start:start + _CHUNK]
        for case, ours, theirs in zip(chunk, evaluate_expressions(chunk), run_oracle(oracle, "expr", chunk)):
            found = expression_disagreement(case, ours, theirs)
            if found is not None:
                disagreements.append(found)
    unexplained = _report("expressions", disagreements, len(cases))
    assert not unexplained, "\n\n".join(unexplained[:20])


def test_generated_policies_agree_with_cel_go(oracle: Path) -> None:
    cases = list(policy_cases(SEED, POLICIES))
    answers = run_oracle(oracle, "policy", cases)
    disagreements: list[Disagreement] = []
    for case, theirs in zip(cases, answers):
        found = policy_disagreement(case, evaluate_policy(case), theirs)
        if found is not None:
            disagreements.append(found)
    unexplained = _report("policies", disagreements, len(cases))
    assert not unexplained, "\n\n".join(unexplained[:20])


def _answers(oracle: Path, case: dict[str, Any]) -> tuple[Any, Any]:
    return evaluate_expressions([case])[0], run_oracle(oracle, "expr", [case])[0]


# The stale cel.bind slot after a short-circuiting comprehension (webhook/cel/compat.py D30),
# pinned against cel-go.
def test_has_after_short_circuiting_comprehension_agrees(oracle: Path) -> None:
    case = {
        "expr": "['Deployment','ReplicaSet'].all(kind, object.kind != kind) || !has(object.spec.template.spec.hostNetwork)",
        "vars": {"object": {"kind": "Deployment", "spec": {"template": {"spec": {"hostNetwork": True}}}}},
    }
    ours, theirs = _answers(oracle, case)
    assert ours == theirs == {"value": False}
