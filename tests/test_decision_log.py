"""The decision log: one JSON line per decision on stdout, a size-rotated file shared by
workers, sampling of allowed decisions only, and no Secret or ConfigMap content."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from webhook import decision_log
from webhook.admission.manifest import attributes_for_manifest
from webhook.policy.decision import AdmissionDecision, AdmissionStatus, PolicyEvaluation

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "a"}, "spec": {"containers": []}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}, "data": {"password": "aHVudGVyMg=="}}
ALLOWED = AdmissionDecision(allowed=True, status=None)
DENIED = AdmissionDecision(allowed=False, status=AdmissionStatus(403, "Forbidden", "no: aHVudGVyMg=="),
                           evaluations=(PolicyEvaluation("p", "b", None, "deny", "no: aHVudGVyMg=="),))


@pytest.fixture
def logfile(tmp_path: Path, capsys):
    decision_log.configure_logging("info", decision_file=tmp_path / "decisions.log", max_bytes=8000, backups=2)
    yield tmp_path / "decisions.log"
    decision_log.set_allowed_sample_rate(1.0)
    logging.getLogger().handlers[:] = []


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_decisions_go_to_stdout_and_the_file(logfile, capsys):
    decision_log.log_decision(attributes_for_manifest(POD), DENIED, 0.001, 3)
    (line,) = _lines(logfile)
    assert line["allowed"] is False and line["denied_by"] == ["p/b"] and line["policy_generation"] == 3
    assert json.loads(capsys.readouterr().out) == line


def test_allowed_decisions_are_sampled_denials_never(logfile):
    decision_log.set_allowed_sample_rate(0.0)
    for _ in range(20):
        decision_log.log_decision(attributes_for_manifest(POD), ALLOWED, 0.001, 1)
        decision_log.log_decision(attributes_for_manifest(POD), DENIED, 0.001, 1)
    assert [line["allowed"] for line in _lines(logfile)] == [False] * 20


def test_secret_content_and_messages_about_secrets_are_never_logged(logfile):
    decision_log.log_decision(attributes_for_manifest(SECRET), DENIED, 0.001, 1)
    text = logfile.read_text()
    assert "aHVudGVyMg==" not in text and "password" not in text
    assert _lines(logfile)[0]["message"] == decision_log.REDACTED


def test_the_file_is_rotated_by_size(logfile):
    for _ in range(40):
        decision_log.log_decision(attributes_for_manifest(POD), DENIED, 0.001, 1)
    assert logfile.with_name("decisions.log.1").is_file()
    assert logfile.stat().st_size <= 8000


def test_a_sample_rate_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        decision_log.set_allowed_sample_rate(1.5)
