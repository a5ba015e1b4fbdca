"""Added latency of Pod creates through celgate vs the built-in ValidatingAdmissionPolicy plugin,
in one real kube-apiserver (tests/e2e harness).

    python bench/e2e_latency.py [--creates 300] [--workers 1] [--dry-run]

Three namespaces labelled pod-security.kubernetes.io/enforce+warn+audit=restricted: one with no
policy at all (the API server's own cost), one judged natively (the shipped policies as API
objects), one sent to celgate (the shipped policies in a local ``celgate serve``). The same
compliant Pod is created in each, round-robin so that drift hits all three alike, and the
client-side latency is reported as median and p99 per mode, and the median added over "none".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from kubernetes import config as k8s_config  # noqa: E402

from admission_request import Kube  # noqa: E402
from celgate_process import CelgateProcess  # noqa: E402
from controlplane import ControlPlane  # noqa: E402
from e2e_objects import SHIPPED_POLICIES, pod, psa_labels  # noqa: E402
from registration import MODE_LABEL, SUITE_LABEL, install_native, nativize, read_policy_documents, wait_until, webhook_configuration  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=300, help="creates per mode (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="celgate worker processes (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="?dryRun=All (admission runs, nothing is stored)")
    args = parser.parse_args(argv)

    with ControlPlane(extra_apiserver_args=["--disable-admission-plugins=PodSecurity"]) as cp, \
            tempfile.TemporaryDirectory() as tmp:
        kube = Kube(k8s_config.new_client_from_config(config_file=cp.kubeconfig_path))
        labels = psa_labels("restricted", "enforce", "warn", "audit")
        namespaces = {}
        for mode in ("none", "native", "webhook"):
            name = f"bench-{mode}"
            mode_labels = {SUITE_LABEL: "true", MODE_LABEL: mode, **(labels if mode != "none" else {})}
            kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name, "labels": mode_labels}})
            namespaces[mode] = name
        kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "bench-probe", "labels": {SUITE_LABEL: "true", MODE_LABEL: "native"}}})
        install_native(kube, nativize(read_policy_documents([SHIPPED_POLICIES])), "bench-probe")
        process = CelgateProcess(Path(tmp), [SHIPPED_POLICIES], cp.kubeconfig_path, workers=args.workers).start()
        try:
            kube.apply(webhook_configuration({"url": process.url, "caBundle": process.ca_bundle}))
            wait_until(lambda: kube.create(pod("probe", privileged=True), namespaces["webhook"], dry_run=True),
                       lambda o: o.message.startswith("admission webhook"), "the celgate webhook")
            samples: dict[str, list[float]] = {mode: [] for mode in namespaces}
            warmup = 20
            for i in range(args.creates + warmup):
                for mode, ns in namespaces.items():
                    body = pod(f"p{i}", restricted=True)
                    started = time.perf_counter()
                    outcome = kube.create(body, ns, dry_run=args.dry_run)
                    elapsed = time.perf_counter() - started
                    if not outcome.allowed or outcome.warnings:
                        raise SystemExit(f"{mode}: unexpected outcome {outcome}")
                    if i >= warmup:
                        samples[mode].append(elapsed * 1000)
        finally:
            process.stop()

    base = statistics.median(samples["none"])
    print(f"Pod creates ({'dry run' if args.dry_run else 'stored'}), {args.creates} per mode after "
          f"{warmup} warm-up, celgate --workers {args.workers}, kube-apiserver v1.35 on loopback")
    print(f"{'mode':<28} {'median ms':>10} {'p99 ms':>8} {'added median ms':>16}")
    for mode, title in (("none", "no policy"), ("native", "built-in VAP (shipped PSS)"),
                        ("webhook", "celgate webhook (same)")):
        median = statistics.median(samples[mode])
        print(f"{title:<28} {median:>10.2f} {percentile(samples[mode], 0.99):>8.2f} {median - base:>16.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
