"""--profile: pyinstrument over decide() of the 4-container Pod, installed into the venv on demand."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

PACKAGE = "pyinstrument>=4.6"


class ProfilerUnavailable(RuntimeError):
    """pyinstrument is not installed and could not be installed."""


def ensure_pyinstrument() -> None:
    if importlib.util.find_spec("pyinstrument") is not None:
        return
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", PACKAGE], capture_output=True, text=True)
    if done.returncode != 0:
        raise ProfilerUnavailable(f"pip install {PACKAGE} failed: {done.stderr[-1000:]}")


def render(profile: dict[str, Any]) -> str:
    lines = []
    for label, data in profile.items():
        lines.append(f"\nprofile ({label}): decide() of the {data['pod']} Pod, {data['runs']} runs in "
                     f"{data['seconds']:.1f} s ({data['us_per_decide']:.0f} µs each under the profiler); "
                     f"top {len(data['top_self'])} by own time")
        lines.append(f"  {'own %':>6} {'total %':>7}  entry")
        for entry in data["top_self"]:
            lines.append(f"  {entry['self_pct']:6.1f} {entry['total_pct']:7.1f}  {entry['entry']}")
    return "\n".join(lines) + "\n"
