"""Each target under coverage-guided fuzzing (atheris) for a bounded time: no crash, no input
over the per-input deadline, RSS under the limit; the executions are printed for the record.
tools/fuzz runs the same for longer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.atheris_run import run_atheris
from tests.fuzz.targets import TARGETS

SECONDS = int(os.environ.get("CELGATE_ATHERIS_SECONDS", "6"))
SMALL_POLICIES = Path(__file__).resolve().parents[1] / "fixtures" / "server" / "policies"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_coverage_guided_fuzzing_finds_no_crash(target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELGATE_FUZZ_REVIEW_POLICIES", str(SMALL_POLICIES))  # tools/fuzz takes the shipped ones
    run = run_atheris(target, SECONDS, tmp_path / "corpus", tmp_path)
    with capsys.disabled():
        print(f"\natheris {target}: {run.executions} executions in {SECONDS}s, peak RSS {run.peak_rss_mb} MB")
    assert run.code == 0, run.output[-4000:]
    assert run.executions > 0, run.output[-4000:]
    assert not run.artifacts, run.artifacts
