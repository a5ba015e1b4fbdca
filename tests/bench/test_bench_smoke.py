"""The bench suite does not rot: ``python -m bench --quick`` of its cheap sections prints the
table and writes the JSON it documents (docs/bench.md). Not a timed test: no figure is compared
with a threshold, only checked to be a measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import workloads
from bench.report import COLUMNS, Figure, Run, render

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("bench") / "run.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "decide,load", "--no-baseline",
                           "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(out.read_text())


def test_the_quick_run_prints_one_table_with_a_row_per_figure(quick_run) -> None:
    done, data = quick_run
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["section", "figure", "unit"])
    assert lines[header].split() == list(COLUMNS)
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    rows = lines[header + 2: header + 2 + len(data["figures"])]
    assert [row.split()[0] for row in rows] == [f["section"] for f in data["figures"]]
    assert any(line.startswith("load avg:") for line in lines[:header])


def test_the_json_has_every_decide_and_load_figure_for_the_current_tree(quick_run) -> None:
    _, data = quick_run
    assert data["sections"] == ["decide", "load"] and data["quick"] is True
    assert set(data["trees"]) == {"current"}
    assert {"nproc", "cpu_model", "python", "load_average"} <= set(data["machine"])
    names = [f["name"] for f in data["figures"]]
    for title in workloads.POD_SIZE_TITLES.values():
        assert f"decide() {title} median" in names and f"decide() {title} p99" in names
    assert "load_policy_set(policies/pod-security)" in names
    assert "celgate test start-up (1 Pod, whole command)" in names
    for figure in data["figures"]:
        assert figure["current"] is not None and figure["current"] > 0, figure
        assert figure["baseline"] is None and figure["factor"] is None
    assert all(pod["allowed"] for pod in data["details"]["decide"]["current"]["pods"].values())
    assert data["details"]["failures"] == []


def test_the_improvement_factor_is_above_one_when_the_current_tree_is_better() -> None:
    assert Figure("s", "latency", "ms", True, current=2.0, baseline=6.0).factor == 3.0
    assert Figure("s", "throughput", "req/s", False, current=600.0, baseline=200.0).factor == 3.0
    assert Figure("s", "skipped", "-", True).factor is None


def test_a_skipped_section_is_one_row_that_says_why() -> None:
    run = Run(command="python -m bench", started="now", sections=["kyverno"], quick=True,
              machine={"nproc": 2, "cpu_model": "cpu", "python": "3.11", "load_average": [1.0, 1.0, 1.0]},
              trees={"current": {"revision": "abc", "path": "/repo"}})
    run.add(Figure("kyverno", "kyverno", "-", True, note="skipped: no Go toolchain"))
    assert render(run).rstrip().splitlines()[-1].split()[-4:] == ["skipped:", "no", "Go", "toolchain"]


def test_the_generated_stream_is_deterministic_and_mixed() -> None:
    first, second = workloads.stream(400), workloads.stream(400)
    assert first.objects == second.objects and first.expected_denied == second.expected_denied
    assert set(first.kinds) == {"Pod", "Deployment", "CronJob"} and all(first.kinds.values())
    assert 0 < first.expected_denied < first.kinds["Pod"]


def test_the_large_pod_has_the_documented_size() -> None:
    spec = workloads.large_pod()["spec"]
    assert len(spec["containers"]) == 20 and len(spec["volumes"]) == 30
    assert all(len(container["env"]) == 50 for container in spec["containers"])
