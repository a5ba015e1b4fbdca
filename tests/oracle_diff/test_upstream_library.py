"""The expressions of kube-apiserver's own CEL library tests (k8s.io/apiserver v0.35.8
pkg/cel/library/*_test.go), through celgate and the oracle in the VAP environment.

Upstream's expected values are for each library on its own; here the oracle, which runs them in
the environment policies get, is the expected value. The sources are read from the Go module
cache the oracle was built with.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

from agreement import expression_disagreement
from celgate_side import evaluate_expressions
from disagreements import classify
from oracle_process import REPO, run_oracle

_EXPR = re.compile(r'\bexpr:\s*(`[^`]*`|"(?:[^"\\\n]|\\.)*")')


def _apiserver_version() -> str:
    go_mod = (REPO / "tests" / "oracle" / "go.mod").read_text(encoding="utf-8")
    match = re.search(r"^\s*k8s\.io/apiserver (v\S+)", go_mod, re.M)
    assert match, "tests/oracle/go.mod must require k8s.io/apiserver"
    return match.group(1)


def _library_tests() -> Path:
    cache = Path(os.environ.get("CELGATE_CACHE", Path.home() / ".cache" / "celgate"))
    return cache / "go" / "mod" / f"k8s.io/apiserver@{_apiserver_version()}" / "pkg" / "cel" / "library"


def _expressions(path: Path) -> list[str]:
    found = []
    for literal in _EXPR.findall(path.read_text(encoding="utf-8")):
        found.append(literal[1:-1] if literal.startswith("`") else ast.literal_eval(literal))
    return list(dict.fromkeys(found))


def test_upstream_library_expressions_agree_with_cel_go(oracle: Path) -> None:
    sources = sorted(_library_tests().glob("*_test.go"))
    assert sources, f"no library tests under {_library_tests()} (the oracle build downloads them)"
    cases = [{"expr": expression} for source in sources for expression in _expressions(source)]
    assert len(cases) > 200
    unexplained = []
    for case, ours, theirs in zip(cases, evaluate_expressions(cases), run_oracle(oracle, "expr", cases)):
        found = expression_disagreement(case, ours, theirs)
        if found is not None and classify(found) is None:
            unexplained.append(found.describe())
    assert not unexplained, f"{len(unexplained)} of {len(cases)}:\n\n" + "\n\n".join(unexplained)


def test_recorded_library_cases_agree_with_cel_go(oracle: Path) -> None:
    """tests/fixtures/cel/library/*_kube_apiserver.jsonl were recorded with v0.35.0's libraries
    (tests/cel/library/kube_apiserver_cases.py); the oracle runs v0.35.8's in the VAP environment."""
    fixtures = sorted((REPO / "tests" / "fixtures" / "cel" / "library").glob("*_kube_apiserver.jsonl"))
    expressions = [json.loads(line)["expr"] for path in fixtures for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = [{"expr": expression} for expression in dict.fromkeys(expressions)]
    assert len(cases) > 100
    unexplained = []
    for case, ours, theirs in zip(cases, evaluate_expressions(cases), run_oracle(oracle, "expr", cases)):
        found = expression_disagreement(case, ours, theirs)
        if found is not None and classify(found) is None:
            unexplained.append(found.describe())
    assert not unexplained, f"{len(unexplained)} of {len(cases)}:\n\n" + "\n\n".join(unexplained)
