"""What admission-time PolicyReports and the decision-log file cost the webhook (not a test; run it).

    python bench/compliance_overhead.py [--duration 10] [--levels 1 8]

Starts a throw-away kube-apiserver + etcd (tests/e2e/controlplane.py), installs the
wgpolicyk8s.io CRDs, creates namespace bench-restricted labelled enforce=baseline,
warn=restricted, audit=restricted, and runs bench/webhook_load.py (python -m bench.webhook_load) twice against a
``celgate serve --kubeconfig`` on it, with a Pod that passes baseline and fails restricted
(the fixture without seccompProfile): every request then carries Warn and Audit results, the
most a request can hand the report writer without being denied.

- off: ``--no-policy-reports``, decisions to stdout only;
- on: ``--policy-reports`` (written every 10 s) and ``--decision-log-file`` (size-rotated).

The "audit" half of the comparison is celgate's own trail (the decision-log file); the API
server's audit log costs the API server, not the webhook.

The two modes alternate for ``--rounds`` rounds (off, on, off, on, ...) so a host whose load
drifts (other work on the same cores) disturbs both alike; it prints every run's table, then per
level the median requests/s and CPU ms per decision of each mode and the change in percent.
Exit 1 when any run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from controlplane import ControlPlane  # noqa: E402

FIXTURE = ROOT / "bench" / "fixtures" / "webhook" / "admission-review-pod-3-containers.json"
LABELS = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/audit": "restricted"}
_ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)(?:\s+\S+){6}\s+([\d.]+|n/a)\s+[\d.]+\s*$", re.M)


def _warned_review(directory: Path) -> Path:
    review = json.loads(FIXTURE.read_text())
    spec = review["request"]["object"]["spec"]
    spec["securityContext"].pop("seccompProfile", None)
    for container in spec["containers"]:
        container.get("securityContext", {}).pop("seccompProfile", None)
    path = directory / "review-restricted-violation.json"
    path.write_text(json.dumps(review))
    return path


def _setup(cp: ControlPlane) -> None:
    from kubernetes import config as k8s_config

    from webhook.kube_rest import KubeREST

    rest = KubeREST(k8s_config.new_client_from_config(config_file=cp.kubeconfig_path))
    for path in sorted((ROOT / "manifests" / "policy-reports").glob("wgpolicyk8s.io_*.yaml")):
        (crd,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        rest.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    rest.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "bench-restricted", "labels": LABELS}})


def _run(name: str, args: argparse.Namespace, kubeconfig: str, review: Path, serve_args: list[str]) -> tuple[int, str]:
    command = [sys.executable, "-m", "bench.webhook_load", "--kubeconfig", kubeconfig, "--review", str(review),
               "--duration", str(args.duration), "--warmup", str(args.warmup), "--levels", *map(str, args.levels),
               *[f"--serve-arg={a}" for a in serve_args]]
    print(f"=== {name}: {' '.join(serve_args)}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    print(done.stdout + done.stderr[-2000:], flush=True)
    return done.returncode, done.stdout


def _report_summary(cp: ControlPlane) -> str:
    """Proof that the 'on' runs really wrote reports."""
    from kubernetes import config as k8s_config

    from webhook.kube_rest import KubeREST

    rest = KubeREST(k8s_config.new_client_from_config(config_file=cp.kubeconfig_path))
    report = rest.get("/apis/wgpolicyk8s.io/v1alpha2/namespaces/bench-restricted/policyreports/celgate-admission")
    if report is None:
        return "MISSING"
    return f"{len(report.get('results') or [])} results, summary {report.get('summary')}"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    modes = {"off": ["--no-policy-reports"], "on": ["--policy-reports"]}
    figures: dict[tuple[str, int], list[tuple[float, float]]] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="celgate-overhead-") as scratch, ControlPlane() as cp:
        _setup(cp)
        review = _warned_review(Path(scratch))
        for round_ in range(args.rounds):
            for mode, serve_args in modes.items():
                extra = [*serve_args, "--decision-log-file", str(Path(scratch) / f"decisions-{round_}.log")] if mode == "on" else serve_args
                code, out = _run(f"round {round_ + 1} {mode}", args, cp.kubeconfig_path, review, extra)
                failed = failed or code != 0
                for row in _ROW.findall(out):
                    cpu = float(row[6]) if row[6] != "n/a" else 0.0
                    figures.setdefault((mode, int(row[0])), []).append((float(row[1]), cpu))
        report = _report_summary(cp)
    print(f"PolicyReport bench-restricted/celgate-admission after the 'on' runs: {report}")
    print(f"medians over {args.rounds} alternating round(s):")
    print(f"{'conns':>5} {'req/s off':>10} {'req/s on':>10} {'change':>8} {'CPU ms off':>11} {'CPU ms on':>10} {'change':>8}")
    for level in args.levels:
        off, on = figures.get(("off", level)), figures.get(("on", level))
        if not off or not on:
            print(f"{level:>5} (a run did not produce this row)")
            continue
        rps_a, rps_b = _median([f[0] for f in off]), _median([f[0] for f in on])
        cpu_a, cpu_b = _median([f[1] for f in off]), _median([f[1] for f in on])
        print(f"{level:>5} {rps_a:>10.1f} {rps_b:>10.1f} {100 * (rps_b - rps_a) / rps_a:>+7.1f}% "
              f"{cpu_a:>11.2f} {cpu_b:>10.2f} {100 * (cpu_b - cpu_a) / cpu_a if cpu_a else 0:>+7.1f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
