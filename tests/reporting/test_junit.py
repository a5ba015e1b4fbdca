"""--output junit: well-formed JUnit XML, one test case per object, a failure per denial."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from webhook.admission.dry_run import ObjectResult
from webhook.reporting import junit


def test_report_is_well_formed_with_counts(example_results: list[ObjectResult]) -> None:
    root = ElementTree.fromstring(junit.render(example_results))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests", "-1")) == len(example_results)
    assert int(suite.get("failures", "-1")) == sum(not r.decision.allowed for r in example_results) == 2
    assert float(suite.get("time", "-1")) >= 0


def test_denied_object_fails_with_the_apiservers_message(example_results: list[ObjectResult]) -> None:
    root = ElementTree.fromstring(junit.render(example_results))
    [case] = [c for c in root.iter("testcase") if c.get("name", "").startswith("Pod default/privileged-pod")]
    assert case.get("classname", "").endswith("privileged-pod.yaml")
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "Forbidden"
    assert failure.get("message", "").startswith('pods "privileged-pod" is forbidden: ValidatingAdmissionPolicy')
    assert "policy=disallow-privileged-containers" in (failure.text or "")


def test_allowed_object_passes_and_keeps_its_warnings(example_results: list[ObjectResult]) -> None:
    root = ElementTree.fromstring(junit.render(example_results))
    [case] = [c for c in root.iter("testcase") if c.get("name", "").startswith("Pod production/unpinned-pod")]
    assert case.find("failure") is None
    assert "Warning: Validation failed for ValidatingAdmissionPolicy 'warn-latest-tag'" in (case.findtext("system-out") or "")
