"""The source trees a run measures: the current one and a baseline revision from git history.

The baseline is exported with ``git archive`` (no worktree registration, no git metadata) into
``~/.cache/celgate/bench/baseline-<sha>/`` once and reused; its code runs with ``PYTHONPATH``
set to that directory, so ``webhook`` resolves there and not to any installed copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("CELGATE_BENCH_CACHE") or Path.home() / ".cache/celgate/bench")
BASELINE_FILE = Path(__file__).resolve().parent / "BASELINE"


class TreeError(RuntimeError):
    """A revision cannot be resolved or exported; the message says what to do."""


@dataclass(frozen=True)
class Tree:
    """One source tree of celgate: ``label`` is "current" or "baseline"."""

    label: str
    path: Path
    revision: str  # commit sha (the current tree's HEAD, "+dirty" when it has local changes)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a process that must run this tree's ``webhook``."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.path)
        env.pop("PYTHONSTARTUP", None)
        env.update(extra)
        return env

    @property
    def policies(self) -> Path:
        return self.path / "policies" / "pod-security"


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise TreeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def default_baseline() -> str:
    """The revision named on the first line of bench/BASELINE."""
    return BASELINE_FILE.read_text().split()[0]


def current_tree() -> Tree:
    try:
        sha = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except TreeError:
        sha, dirty = "unknown", False
    return Tree("current", REPO, sha + ("+dirty" if dirty else ""))


def baseline_tree(revision: str) -> Tree:
    """The tree of ``revision``, exported once into the cache."""
    try:
        sha = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    except TreeError as error:
        raise TreeError(f"baseline revision {revision!r} is not a commit of {REPO} ({error}); "
                        "pass --baseline REV or --no-baseline") from None
    target = CACHE / f"baseline-{sha[:12]}"
    marker = target / ".celgate-bench-exported"
    if not marker.exists():
        if target.exists():
            shutil.rmtree(target)
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
            archive = Path(scratch) / "tree.tar"
            _git("archive", "--format=tar", "-o", str(archive), sha)
            staging = Path(scratch) / "tree"
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
            staging.rename(target)
        marker.write_text(sha + "\n")
    return Tree("baseline", target, sha)
