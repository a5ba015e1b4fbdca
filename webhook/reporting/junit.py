"""``--output junit``: JUnit XML for CI dashboards; one test case per object, a failure per denial."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Sequence

from webhook.admission.dry_run import ObjectResult, Summary

SUITE_NAME = "celgate test"


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _testcase(result: ObjectResult) -> ElementTree.Element:
    decision = result.decision
    case = ElementTree.Element(
        "testcase",
        {
            "classname": result.document.source,
            "name": f"{result.display_name} (document {result.document.index})",
            "file": result.document.source,
            "line": str(result.document.line),
            "time": _seconds(decision.elapsed_seconds),
        },
    )
    if not decision.allowed:
        status = result.status
        failure = ElementTree.SubElement(
            case,
            "failure",
            {"message": status.message if status else "denied", "type": status.reason if status else "Denied"},
        )
        failure.text = "\n".join(
            f"{e.result}: policy={e.policy} binding={e.binding}: {e.message}"
            for e in decision.evaluations
            if e.result in ("deny", "error")
        )
    if decision.warnings:
        ElementTree.SubElement(case, "system-out").text = "\n".join(f"Warning: {w}" for w in decision.warnings)
    return case


def render(results: Sequence[ObjectResult]) -> str:
    summary = Summary.of(results)
    elapsed = _seconds(sum(result.decision.elapsed_seconds for result in results))
    counts = {"tests": str(summary.objects), "failures": str(summary.denied), "errors": "0", "skipped": "0"}
    suites = ElementTree.Element("testsuites", {"name": SUITE_NAME, **counts, "time": elapsed})
    suite = ElementTree.SubElement(suites, "testsuite", {"name": SUITE_NAME, **counts, "time": elapsed})
    suite.extend(_testcase(result) for result in results)
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
