"""--output json follows webhook/schemas/test-result.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from webhook.admission.dry_run import ObjectResult
from webhook.reporting import json_report

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "webhook/schemas/test-result.schema.json").read_text())


def test_report_validates_against_the_published_schema(example_results: list[ObjectResult]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(json.loads(json_report.render(example_results)), SCHEMA)


def test_denied_object_carries_status_and_the_denying_evaluation(example_by_name: dict[str, ObjectResult]) -> None:
    report = json_report.result_to_json(example_by_name["privileged-pod"])
    assert report["source"].endswith("examples/manifests/privileged-pod.yaml#0")
    assert (report["apiVersion"], report["kind"], report["namespace"], report["name"]) == ("v1", "Pod", "default", "privileged-pod")
    assert report["allowed"] is False
    assert report["status"]["code"] == 403
    assert report["status"]["reason"] == "Forbidden"
    assert report["status"]["message"].startswith("ValidatingAdmissionPolicy 'disallow-privileged-containers' ")
    denying = [e for e in report["evaluations"] if e["result"] == "deny"]
    assert denying == [
        {
            "policy": "disallow-privileged-containers",
            "binding": "disallow-privileged-containers",
            "param": None,
            "result": "deny",
            "message": "privileged containers are not allowed",
            "elapsedSeconds": denying[0]["elapsedSeconds"],
        }
    ]
    assert denying[0]["elapsedSeconds"] >= 0


def test_allowed_object_has_no_status(example_by_name: dict[str, ObjectResult]) -> None:
    report = json_report.result_to_json(example_by_name["web"])
    assert report["allowed"] is True
    assert report["status"] is None
    assert report["warnings"] == []


def test_param_driven_evaluation_names_its_param(example_by_name: dict[str, ObjectResult]) -> None:
    report = json_report.result_to_json(example_by_name["batch"])
    [replica] = [e for e in report["evaluations"] if e["policy"] == "replica-limit"]
    assert replica["param"] == "celgate-system/replica-limits"
    assert (replica["result"], replica["message"]) == ("deny", "replicas must be no greater than 5")


def test_summary_adds_up(example_results: list[ObjectResult]) -> None:
    summary = json.loads(json_report.render(example_results))["summary"]
    assert summary["objects"] == len(example_results) == summary["allowed"] + summary["denied"]
    assert summary["denied"] == 2
    assert summary["warnings"] == 1


@pytest.mark.parametrize("broken", [{"summary": {}}, {"results": [{"source": "x"}], "summary": None}])
def test_schema_rejects_reports_missing_required_fields(broken: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
