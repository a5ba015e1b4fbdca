"""Run a command and measure it: wall time and peak resident memory (from wait4's rusage)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    returncode: int
    seconds: float
    max_rss_mb: float
    cpu_seconds: float
    stdout: str
    stderr: str


def run_measured(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 900) -> Measured:
    """Run ``command`` to the end; a run past ``timeout`` is killed (returncode -9)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(process.returncode, seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def stop_group(process: "subprocess.Popen[bytes] | subprocess.Popen[str]", timeout: float) -> int:
    """SIGTERM to the process group (a server and its workers), SIGKILL after ``timeout``; the exit status."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode
