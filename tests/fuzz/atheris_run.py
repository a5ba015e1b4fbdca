"""One bounded atheris run of a target as a subprocess, and what it reported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.seeds import write_corpus
from tests.fuzz.targets import DEADLINE_SECONDS

REPO = Path(__file__).resolve().parents[2]
RSS_LIMIT_MB = 1536


@dataclass(frozen=True)
class AtherisRun:
    target: str
    seconds: int
    code: int
    executions: int
    peak_rss_mb: int
    slowest_input_seconds: int
    artifacts: tuple[Path, ...]  # crash-*, timeout-*, oom-* inputs, to reproduce with atheris_main.py
    output: str


def run_atheris(target: str, seconds: int, corpus: Path, artifacts: Path) -> AtherisRun:
    """Fuzz ``target`` for ``seconds`` from ``corpus`` (seeded when empty; grown by the run).

    Every input must finish within twice the decision deadline (-timeout) and the process stay
    under RSS_LIMIT_MB (-rss_limit_mb); libFuzzer treats either as a crash."""
    if not corpus.is_dir() or not any(corpus.iterdir()):
        write_corpus(target, corpus)
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(REPO / "tests" / "fuzz" / "atheris_main.py"), target, str(corpus),
               f"-max_total_time={seconds}", f"-timeout={int(DEADLINE_SECONDS) * 2}", f"-rss_limit_mb={RSS_LIMIT_MB}",
               "-print_final_stats=1", f"-artifact_prefix={artifacts}/"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=artifacts, timeout=seconds + 300)
    output = done.stdout + done.stderr
    executed = re.search(r"stat::number_of_executed_units:\s+(\d+)", output)
    peak = re.search(r"stat::peak_rss_mb:\s+(\d+)", output)
    slowest = re.search(r"stat::slowest_unit_time_sec:\s+(\d+)", output)
    found = tuple(sorted(p for pattern in ("crash-*", "timeout-*", "oom-*") for p in artifacts.glob(pattern)))
    return AtherisRun(target, seconds, done.returncode, int(executed.group(1)) if executed else 0,
                      int(peak.group(1)) if peak else 0, int(slowest.group(1)) if slowest else 0, found, output)
