"""``kyverno apply`` (the Kyverno CLI, built from its Go module) beside ``celgate test`` on the
same ValidatingAdmissionPolicies and objects.

The CLI is built once into ``~/.cache/celgate/bench/bin/kyverno-<version>/`` the way the control
plane is (tests/e2e/build-controlplane.sh): ``go mod download`` of the module, then ``go build``
of cmd/cli/kubectl-kyverno inside it (its go.mod has replace directives, so ``go install
module@version`` refuses it). That takes many minutes on two cores, so a run that finds no
binary starts the build in the background (nice 15; ``python -m bench.kyverno build``, log in
the cache) and reports the section as skipped; the next run uses the binary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench import load_generator, workloads
from bench.processes import run_measured
from bench.trees import CACHE, REPO, Tree

MODULE = "github.com/kyverno/kyverno"
VERSION = os.environ.get("CELGATE_BENCH_KYVERNO_VERSION", "v1.19.1")
BIN_DIR = CACHE / "bin" / f"kyverno-{VERSION}"
BINARY = BIN_DIR / "kubectl-kyverno"
BUILD_DIR = CACHE / f"kyverno-build-{VERSION}"
BUILD_LOG = BUILD_DIR / "build.log"
BUILD_PID = BUILD_DIR / "build.pid"


def binary() -> Path | None:
    override = os.environ.get("CELGATE_BENCH_KYVERNO")
    if override:
        return Path(override)
    return BINARY if os.access(BINARY, os.X_OK) else None


def _build_running() -> bool:
    try:
        pid = int(BUILD_PID.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def unavailable_reason() -> str:
    if load_generator.go_binary() is None:
        return "no Go toolchain to build the Kyverno CLI"
    if _build_running():
        return f"Kyverno CLI {VERSION} is being built in the background (log {BUILD_LOG}); a later run uses it"
    if BUILD_LOG.exists():
        tail = [line for line in BUILD_LOG.read_text(errors="replace").splitlines() if line.strip()][-1:]
        return f"the Kyverno CLI {VERSION} build failed: {(tail or ['?'])[0][:150]} (log {BUILD_LOG})"
    return f"no Kyverno CLI {VERSION} binary"


def start_build_in_background() -> None:
    """Start the build unless the binary exists or a build is under way; it outlives this run."""
    if binary() is not None or _build_running() or load_generator.go_binary() is None:
        return
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with BUILD_LOG.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "bench.kyverno", "build"], cwd=REPO, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=lambda: os.nice(15))
    BUILD_PID.write_text(str(process.pid))


def build() -> Path:
    """Download the module, build the CLI inside it; raises CalledProcessError on failure."""
    go = load_generator.go_binary()
    if go is None:
        raise RuntimeError("no Go toolchain")
    env = load_generator.go_env()
    env["GOFLAGS"] = "-mod=mod -modcacherw -buildvcs=false -p=2"
    env["CGO_ENABLED"] = "0"
    info = json.loads(subprocess.run([go, "mod", "download", "-json", f"{MODULE}@{VERSION}"], env=env, check=True,
                                     capture_output=True, text=True, cwd=BUILD_DIR).stdout)
    source = BUILD_DIR / "src"
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(info["Dir"], source)
    for path in [source, *source.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    partial = BIN_DIR / "kubectl-kyverno.partial"
    subprocess.run([go, "build", "-trimpath", "-o", str(partial), "./cmd/cli/kubectl-kyverno"], cwd=source, env=env,
                   check=True, timeout=3 * 3600)
    partial.rename(BINARY)
    shutil.rmtree(source)
    print(f"built {BINARY}", flush=True)
    return BINARY


def _policy_files(tree: Tree) -> tuple[list[Path], list[Path]]:
    """The tree's policy files (VAPs and bindings) and its param files (ConfigMaps)."""
    policies, params = [], []
    for path in sorted(tree.policies.glob("*.yaml")):
        kinds = {d.get("kind") for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)}
        (params if kinds <= {"ConfigMap"} else policies).append(path)
    return policies, params


def _version(kyverno: Path) -> str:
    done = subprocess.run([str(kyverno), "version"], capture_output=True, text=True, timeout=60)
    for line in done.stdout.splitlines():
        if line.lower().startswith("version"):
            found = line.partition(":")[2].strip()
            return VERSION if found in ("", "(devel)") else found
    return VERSION


def compare(kyverno: Path, trees: list[Tree], objects: int, workdir: Path) -> dict[str, Any]:
    from bench import cli_throughput

    workdir.mkdir(parents=True, exist_ok=True)
    stream = workloads.stream(objects)
    resources = workloads.write_yaml_stream(stream.objects, workdir / "objects.yaml")
    values = workdir / "values.yaml"
    values.write_text(yaml.safe_dump({"apiVersion": "cli.kyverno.io/v1alpha1", "kind": "Values", "namespaceSelector": [
        {"name": name, "labels": labels} for name, labels in workloads.NAMESPACE_LABELS.items()]}))
    current = trees[0]
    policies, params = _policy_files(current)
    command = [str(kyverno), "apply", *map(str, policies), "--resource", str(resources), "--values-file", str(values),
               *[arg for p in params for arg in ("--parameter-resource", str(p))], "--remove-color"]
    done = run_measured(command, cwd=workdir, timeout=1800)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"kyverno apply exited {done.returncode}: {(done.stderr or done.stdout)[-1500:]}")
    tally = next((line.strip() for line in done.stdout.splitlines() if line.strip().startswith("pass:")), "")
    if not tally:
        raise RuntimeError(f"kyverno apply printed no 'pass: ... fail: ...' tally: {done.stdout[-800:]}")
    celgate = {tree.label: cli_throughput.throughput(tree, tree.policies, [resources], 0.0) for tree in trees}
    denied = ", ".join(f"celgate {label} {d['summary'].get('denied')} denied" for label, d in celgate.items())
    return {
        "objects": len(stream.objects), "policies": f"{len(policies)} files of {current.policies.relative_to(current.path)}",
        "kyverno": {"version": _version(kyverno), "seconds": done.seconds, "max_rss_mb": done.max_rss_mb,
                    "tally": tally, "command": command},
        "celgate": {label: {"seconds": d["seconds"], "max_rss_mb": d["max_rss_mb"], "summary": d["summary"]}
                    for label, d in celgate.items()},
        "note": f"kyverno {tally}; {denied}",
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        build()
    else:
        print("usage: python -m bench.kyverno build", file=sys.stderr)
        sys.exit(2)
