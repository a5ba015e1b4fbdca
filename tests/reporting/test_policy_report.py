"""PolicyReport objects: results keyed so rewriting an observation replaces it, bounded, and
shaped as the wgpolicyk8s.io/v1alpha2 CRD shipped in manifests/policy-reports/ requires."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from webhook.policy.decision import PolicyEvaluation
from webhook.reporting.policy_report import ObjectRef, merge_results, report_object, report_result

CRDS = Path(__file__).resolve().parents[2] / "manifests" / "policy-reports"
POD = ObjectRef("v1", "Pod", "team-a", "web", "uid-1")


def _result(policy: str = "p", result: str = "deny", at: float = 100.0, name: str = "web") -> dict:
    ref = ObjectRef("v1", "Pod", "team-a", name)
    return report_result(PolicyEvaluation(policy, "b", None, result, "no"), ref, category="admission", timestamp=at)  # type: ignore[arg-type]


@pytest.mark.parametrize(("evaluation", "expected"), [("deny", "fail"), ("audit", "fail"), ("warn", "warn"), ("error", "error"), ("admit", "pass")])
def test_results_use_the_report_vocabulary(evaluation, expected):
    entry = report_result(PolicyEvaluation("p", "b", None, evaluation, "m"), POD, category="scan", timestamp=1.5)
    assert entry["result"] == expected
    assert entry["policy"] == "p" and entry["rule"] == "b" and entry["source"] == "celgate"
    assert entry["resources"] == [{"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "team-a", "uid": "uid-1"}]
    assert entry["timestamp"] == {"seconds": 1, "nanos": 500000000}


def test_the_same_observation_written_twice_is_one_result_with_the_newer_time():
    merged, dropped = merge_results([_result(at=100)], [_result(at=200), _result(policy="q", at=150)])
    assert dropped == 0
    assert sorted((r["policy"], r["timestamp"]["seconds"]) for r in merged) == [("p", 200), ("q", 150)]


def test_a_full_report_keeps_the_newest_results():
    merged, dropped = merge_results([], [_result(name=f"pod-{i}", at=i) for i in range(10)], max_results=3)
    assert dropped == 7
    assert sorted(r["resources"][0]["name"] for r in merged) == ["pod-7", "pod-8", "pod-9"]


def test_report_objects_summarise_their_results():
    report = report_object("celgate-scan", "team-a", [_result(), _result(result="warn", policy="q")], passes=4)
    assert report["kind"] == "PolicyReport" and report["metadata"]["namespace"] == "team-a"
    assert report["summary"] == {"pass": 4, "fail": 1, "warn": 1, "error": 0, "skip": 0}
    assert report_object("celgate-scan", None, [])["kind"] == "ClusterPolicyReport"


def _v1alpha2_schema(kind: str) -> dict:
    for path in CRDS.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
                (version,) = [v for v in doc["spec"]["versions"] if v["name"] == "v1alpha2"]
                return version["schema"]["openAPIV3Schema"]
    raise AssertionError(f"no {kind} CRD in {CRDS}")


def _conforms(value, schema, path="$"):
    """The subset of structural-schema validation the report shape exercises."""
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), path
        for key in schema.get("required", []):
            assert key in value, f"{path}.{key} is required"
        for key, item in value.items():
            if key in schema.get("properties", {}):
                _conforms(item, schema["properties"][key], f"{path}.{key}")
            elif "additionalProperties" in schema:
                _conforms(item, schema["additionalProperties"], f"{path}.{key}")
            elif path != "$.metadata":
                raise AssertionError(f"{path}.{key} is not in the schema")
    elif kind == "array":
        assert isinstance(value, list), path
        for index, item in enumerate(value):
            _conforms(item, schema["items"], f"{path}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), path
        if "enum" in schema:
            assert value in schema["enum"], f"{path}={value!r} not in {schema['enum']}"
    elif kind == "integer":
        assert isinstance(value, int), path
    elif kind == "boolean":
        assert isinstance(value, bool), path


@pytest.mark.parametrize(("namespace", "kind"), [("team-a", "PolicyReport"), (None, "ClusterPolicyReport")])
def test_reports_conform_to_the_shipped_v1alpha2_crd(namespace, kind):
    report = report_object("celgate-admission", namespace, [_result(), _result(result="warn")])
    _conforms(report, _v1alpha2_schema(kind))
