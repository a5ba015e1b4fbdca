"""The Go load generator (bench/loadgen/): built once per source hash into the bench cache.

It needs only the Go toolchain and the standard library (go.mod has no requirements), so the
build works offline; the binary is ``~/.cache/celgate/bench/bin/loadgen-<hash>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from bench.trees import CACHE

SOURCE = Path(__file__).resolve().parent / "loadgen"
GO_CACHE = Path.home() / ".cache" / "celgate" / "go"


class LoadGeneratorError(RuntimeError):
    """The load generator cannot be built; the message says why."""


def go_binary() -> str | None:
    return shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None)


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOMODCACHE", str(GO_CACHE / "mod"))
    env.setdefault("GOCACHE", str(GO_CACHE / "cache"))
    env["GOFLAGS"] = "-mod=readonly -modcacherw -buildvcs=false -p=2"
    env["CGO_ENABLED"] = "0"
    return env


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCE.glob("*")):
        if path.suffix in (".go", ".mod", ".sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _target() -> Path:
    return CACHE / "bin" / f"loadgen-{source_hash()}"


def built() -> bool:
    return _target().exists()


def build() -> Path:
    """The binary for the current source, building it when absent."""
    target = _target()
    if target.exists():
        return target
    go = go_binary()
    if go is None:
        raise LoadGeneratorError("the Go toolchain is not installed (go not on PATH nor /usr/local/go/bin)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    done = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."], cwd=SOURCE, env=go_env(),
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise LoadGeneratorError(f"go build of bench/loadgen failed: {done.stderr[-2000:]}")
    partial.rename(target)
    return target
