"""``celgate test`` as a user runs it: start-up on one Pod, and objects/s over the PSA v1.35
corpus and over the generated stream, each the real command in a subprocess of the tree.

Objects/s is given twice: over the whole run (start-up included) and net of the start-up
measured on one Pod in the same invocation (whole run minus the median start-up).
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.processes import run_measured
from bench.trees import Tree
from bench.workloads import namespace_label_args


class CliBenchError(RuntimeError):
    """celgate test did not run as expected; the message has its output."""


@dataclass(frozen=True)
class CliRun:
    seconds: float
    summary: dict[str, Any]
    max_rss_mb: float


def celgate_test(tree: Tree, policies: Path, inputs: list[Path], timeout: float = 900) -> CliRun:
    """One ``celgate test -o json`` run of ``tree``; exit 0 or 1 (some denied) are both fine."""
    command = [sys.executable, "-m", "webhook.cli", "test", "--policies", str(policies), *namespace_label_args(),
               "-o", "json", *map(str, inputs)]
    # cwd is the tree: ``-m`` puts the working directory first on sys.path.
    done = run_measured(command, cwd=tree.path, env=tree.env(), timeout=timeout)
    if done.returncode not in (0, 1):
        raise CliBenchError(f"celgate test ({tree.label}) exited {done.returncode}: {done.stderr[-2000:]}")
    try:
        summary = json.loads(done.stdout)["summary"]
    except (ValueError, KeyError) as error:
        raise CliBenchError(f"celgate test ({tree.label}) printed no JSON summary ({error}): {done.stdout[-500:]}")
    return CliRun(done.seconds, summary, done.max_rss_mb)


def startup(tree: Tree, policies: Path, pod_file: Path, runs: int) -> dict[str, Any]:
    samples = [celgate_test(tree, policies, [pod_file]).seconds for _ in range(runs)]
    return {"runs": runs, "median_s": statistics.median(samples), "samples_s": samples}


def throughput(tree: Tree, policies: Path, inputs: list[Path], startup_s: float) -> dict[str, Any]:
    run = celgate_test(tree, policies, inputs)
    objects = int(run.summary.get("objects", 0))
    net = run.seconds - startup_s
    return {
        "objects": objects, "seconds": run.seconds, "summary": run.summary, "max_rss_mb": run.max_rss_mb,
        "objects_per_s": objects / run.seconds if run.seconds else None,
        "net_objects_per_s": objects / net if net > 0 else None,
    }
