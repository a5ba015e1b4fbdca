"""--output sarif: SARIF 2.1.0 with the file and line of each offending document."""

from __future__ import annotations

import json

import pytest

from webhook.admission.dry_run import ObjectResult
from webhook.reporting import sarif


def test_log_has_the_sarif_210_shape(example_results: list[ObjectResult]) -> None:
    log = json.loads(sarif.render(example_results))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "celgate"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]


def test_denial_points_at_the_document_line(example_results: list[ObjectResult]) -> None:
    [run] = json.loads(sarif.render(example_results))["runs"]
    [finding] = [r for r in run["results"] if r["ruleId"] == "disallow-privileged-containers"]
    assert finding["level"] == "error"
    location = finding["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("examples/manifests/privileged-pod.yaml")
    # The file opens with a comment line; the Pod document starts on line 2.
    assert location["region"]["startLine"] == 2
    assert "privileged containers are not allowed" in finding["message"]["text"]


def test_warning_is_a_warning_and_admitted_evaluations_are_not_findings(example_results: list[ObjectResult]) -> None:
    [run] = json.loads(sarif.render(example_results))["runs"]
    levels = {(r["ruleId"], r["level"]) for r in run["results"]}
    assert ("warn-latest-tag", "warning") in levels
    assert all(r["properties"]["result"] in ("deny", "warn", "audit", "error") for r in run["results"])


@pytest.mark.parametrize(
    ("source", "uri"),
    [("-", "stdin"), ("manifests/my pod.yaml", "manifests/my%20pod.yaml"), ("/abs/pod.yaml", "file:///abs/pod.yaml")],
)
def test_artifact_uris(source: str, uri: str) -> None:
    assert sarif.artifact_uri(source) == uri
