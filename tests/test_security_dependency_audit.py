"""tools/dependency-audit's verdicts on pip-audit's JSON report: a finding in celgate's own
dependencies fails, one elsewhere in the environment is a note, and an audit no service could
do is a loud NOT AUDITED (an error only with CELGATE_REQUIRE_AUDIT=1), never a silent pass."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "dependency-audit"


def _load():
    loader = importlib.machinery.SourceFileLoader("dependency_audit", str(TOOL))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module
    loader.exec_module(module)
    return module


audit = _load()
OURS = {"starlette", "uvicorn"}
CLEAN = {"dependencies": [{"name": "starlette", "version": "1.0", "vulns": []},
                          {"name": "uvicorn", "version": "0.5", "vulns": []}], "fixes": []}
OURS_VULNERABLE = {"dependencies": [{"name": "starlette", "version": "0.1", "vulns": [{"id": "GHSA-xxxx"}]}]}
ENV_VULNERABLE = {"dependencies": [{"name": "uvicorn", "version": "0.5", "vulns": []},
                                   {"name": "setuptools", "version": "65.5.0", "vulns": [{"id": "PYSEC-1"}]}]}
NOTHING_KNOWN = {"dependencies": [{"name": "starlette", "skip_reason": "Dependency not found"},
                                  {"name": "uvicorn", "skip_reason": "Dependency not found"}]}


def test_a_clean_report_passes_and_says_what_it_audited() -> None:
    code, lines = audit.verdict([audit.parse_report("default", CLEAN)], OURS, require=False)
    assert code == 0
    assert lines == ["dependency-audit: 2 packages audited by the default service, 0 skipped, "
                     "0 of celgate's dependencies with known vulnerabilities"]


def test_a_vulnerable_celgate_dependency_fails() -> None:
    code, lines = audit.verdict([audit.parse_report("osv", OURS_VULNERABLE)], OURS, require=False)
    assert code == 1
    assert "  VULNERABLE starlette 0.1: GHSA-xxxx" in lines


def test_a_vulnerable_package_outside_celgates_dependencies_is_a_note() -> None:
    code, lines = audit.verdict([audit.parse_report("osv", ENV_VULNERABLE)], OURS, require=False)
    assert code == 0
    assert any(line.startswith("  note: setuptools 65.5.0") for line in lines)


def test_a_service_that_knows_no_package_is_not_an_audit() -> None:
    """pip-audit itself prints 'No known vulnerabilities found' and exits 0 for this."""
    result = audit.parse_report("default", NOTHING_KNOWN)
    assert not result.answered
    assert result.failure == "the service had no record of any of the 2 packages"


@pytest.mark.parametrize("require,expected", [(False, 0), (True, 1)])
def test_no_service_answering_is_reported_loudly(require: bool, expected: int) -> None:
    attempts = [audit.parse_report("default", NOTHING_KNOWN),
                audit.Audit("osv", failure=audit._unreachable("NameResolutionError: Failed to resolve"))]
    code, lines = audit.verdict(attempts, OURS, require=require)
    assert code == expected
    assert lines[0].startswith("dependency-audit: NOT AUDITED")
    assert "  osv: the service's host name does not resolve here (no network to it)" in lines


def test_the_first_service_that_answers_decides() -> None:
    attempts = [audit.Audit("default", failure="no complete answer within 60s"), audit.parse_report("osv", OURS_VULNERABLE)]
    assert audit.verdict(attempts, OURS, require=False)[0] == 1


def test_the_closure_holds_celgates_runtime_dependencies() -> None:
    runtime = audit.dependency_closure(extras=())
    assert {"celgate", "starlette", "uvicorn", "cryptography", "kubernetes"} <= runtime
    assert "pip" not in runtime  # the environment's tooling is not celgate's
    # the test extra's tools come in with it (pip-audit itself reaches pip through pip-api)
    assert {"pytest", "hypothesis"} <= audit.dependency_closure() - runtime


def test_a_service_with_no_time_left_is_not_tried() -> None:
    result = audit.run_service("osv", ["--vulnerability-service", "osv"], timeout=0)
    assert not result.answered and result.failure.startswith("not tried")
