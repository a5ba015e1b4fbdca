"""The alert rules under promtool: `promtool check rules` on the PrometheusRule's groups and
`promtool test rules` on tests/monitoring/alerts.test.yaml, which must cover every alert.

promtool is Debian's ``prometheus`` package (.ci/run installs it); without it these skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
RULE = yaml.safe_load((REPO / "manifests" / "monitoring" / "prometheusrule.yaml").read_text())
UNIT_TESTS = REPO / "tests" / "monitoring" / "alerts.test.yaml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; .ci/run installs it)")
ALERTS = {rule["alert"] for group in RULE["spec"]["groups"] for rule in group["rules"] if "alert" in rule}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_every_alert_has_a_unit_test_that_fires_it():
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert ALERTS - fired == set()


@needs_promtool
def test_promtool_checks_the_rules(tmp_path: Path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": RULE["spec"]["groups"]}, sort_keys=False))
    checked = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_promtool_unit_tests_pass(tmp_path: Path):
    groups = yaml.safe_load(yaml.safe_dump(RULE["spec"]["groups"]))
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    tested = _promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
