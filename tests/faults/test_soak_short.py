"""The short soak CI runs: ``bench/soak.py`` for a minute at a steady rate well below capacity
against a real ``celgate serve`` over TLS; no error, bounded memory and file-descriptor growth
(the 30-minute run is the same command with ``--minutes 30``: docs/failure-modes.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_minute_at_a_steady_rate_has_no_errors_and_bounded_growth(tmp_path: Path) -> None:
    result = tmp_path / "soak.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run(
        [sys.executable, str(REPO / "bench/soak.py"), "--minutes", "1", "--window", "15", "--rate", "30",
         "--check", "--max-pss-growth-mb", "40", "--max-fd-growth", "8", "--json", str(result)],
        capture_output=True, text=True, timeout=180, env=env,
    )
    print(finished.stdout)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    summary = json.loads(result.read_text())["summary"]
    assert summary["requests"] == 30 * 60
    assert summary["errors"] == 0
    assert summary["server_exit_code"] == 0
    assert summary["fd_growth_after_warmup"] <= 8
