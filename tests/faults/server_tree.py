"""The processes of a running ``celgate serve``: its workers are the parent's children."""

from __future__ import annotations

import time
from pathlib import Path


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def wait_for_workers(pid: int, count: int, *, excluding: set[int] = frozenset(), timeout: float = 30.0) -> list[int]:
    """The parent's live children once there are ``count`` of them and none is in ``excluding``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = children(pid)
        if len(workers) == count and not set(workers) & set(excluding):
            return workers
        time.sleep(0.05)
    raise AssertionError(f"celgate serve {pid} has workers {children(pid)}, wanted {count} new ones")


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples in a Prometheus exposition (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total
