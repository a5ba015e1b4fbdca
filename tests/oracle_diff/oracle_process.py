"""Building and running the cel-go reference evaluator (tests/oracle/).

``oracle_binary()`` runs tests/oracle/build.sh (a no-op when the cached binary is current);
``run_oracle(mode, cases)`` feeds it JSON lines and reads one answer per case.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tests" / "oracle" / "build.sh"
_DEFAULT_GO = Path("/usr/local/go/bin/go")


class OracleUnavailable(Exception):
    """No Go toolchain: the oracle cannot be built here."""


def go_toolchain() -> str | None:
    configured = os.environ.get("GO")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("go") or (str(_DEFAULT_GO) if _DEFAULT_GO.is_file() else None)


def oracle_binary() -> Path:
    """The built oracle; raises OracleUnavailable without Go, CalledProcessError if the build fails."""
    go = go_toolchain()
    if go is None:
        raise OracleUnavailable("no Go toolchain (go on PATH, $GO or /usr/local/go/bin/go)")
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], env={**os.environ, "GO": go},
        capture_output=True, text=True, timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tests/oracle/build.sh failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def run_oracle(binary: Path, mode: str, cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One answer per case, in order (``mode`` is ``expr`` or ``policy``)."""
    lines = [json.dumps(case, ensure_ascii=False) for case in cases]
    result = subprocess.run(
        [str(binary), mode], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=1200,
    )
    if result.returncode != 0:
        raise RuntimeError(f"oracle {mode} exited {result.returncode}:\n{result.stderr[-4000:]}")
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if len(answers) != len(lines):
        raise RuntimeError(f"oracle {mode}: {len(lines)} cases but {len(answers)} answers\n{result.stderr[-2000:]}")
    return answers


class OracleSession:
    """One long-running oracle answering a case at a time (for property tests that shrink)."""

    def __init__(self, binary: Path, mode: str) -> None:
        self._process = subprocess.Popen(
            [str(binary), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )

    def ask(self, case: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(case, ensure_ascii=False) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"oracle exited {self._process.wait()}")
        return json.loads(line)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
