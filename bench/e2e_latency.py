"""Pod-create latency through a real kube-apiserver (tests/e2e harness): celgate's webhook
against the same policies as built-in ValidatingAdmissionPolicies.

    python -m bench.e2e_latency [--creates 200] [--workers 2] [--dry-run]   (current tree only)

One apiserver (PodSecurity admission off), namespaces labelled pod-security.kubernetes.io/
enforce+warn+audit=restricted: ``none`` (no policy: the apiserver's own cost), ``native`` (the
current tree's shipped policies as API objects) and one ``webhook-<tree>`` per celgate tree
measured (that tree's shipped policies in its own ``celgate serve --kubeconfig``, behind its
own ValidatingWebhookConfiguration). The same compliant Pod is created in each, round-robin so
drift hits all alike; per mode the median and p99 client-side latency, and per tree the ratio
of its median to the built-in VAP's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.trees import REPO, Tree, current_tree
from bench.webhook_load import CelgateServer

sys.path.insert(0, str(REPO / "tests" / "e2e"))

WARMUP = 20


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(trees: list[Tree], creates: int, workers: int = 2, dry_run: bool = False) -> dict[str, Any]:
    from kubernetes import config as k8s_config

    from admission_request import Kube
    from controlplane import ControlPlane
    from e2e_objects import pod, psa_labels
    from registration import (MODE_LABEL, SUITE_LABEL, install_native, nativize, read_policy_documents, wait_until,
                              webhook_configuration)

    with ControlPlane(extra_apiserver_args=["--disable-admission-plugins=PodSecurity"]) as cp, \
            tempfile.TemporaryDirectory(prefix="celgate-bench-e2e-") as scratch:
        kube = Kube(k8s_config.new_client_from_config(config_file=cp.kubeconfig_path))
        labels = psa_labels("restricted", "enforce", "warn", "audit")
        modes = ["none", "native", *(f"webhook-{tree.label}" for tree in trees)]
        namespaces: dict[str, str] = {}
        for mode in modes:
            name = f"bench-{mode}"
            mode_labels = {SUITE_LABEL: "true", MODE_LABEL: mode, **(labels if mode != "none" else {})}
            kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name, "labels": mode_labels}})
            namespaces[mode] = name
        kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "bench-probe", "labels": {SUITE_LABEL: "true", MODE_LABEL: "native"}}})
        install_native(kube, nativize(read_policy_documents([current_tree().policies])), "bench-probe")
        servers: list[CelgateServer] = []
        try:
            for tree in trees:
                server = CelgateServer(tree, Path(scratch) / tree.label, workers, "info", cp.kubeconfig_path).start()
                servers.append(server)
                mode = f"webhook-{tree.label}"
                kube.apply(webhook_configuration({"url": f"{server.url}/validate", "caBundle": server.ca_bundle},
                                                 name=f"celgate-bench-{tree.label}", mode=mode))
                wait_until(lambda ns=namespaces[mode]: kube.create(pod("probe", privileged=True), ns, dry_run=True),
                           lambda o: o.message.startswith("admission webhook"), f"the celgate webhook ({tree.label})")
            samples: dict[str, list[float]] = {mode: [] for mode in modes}
            for i in range(creates + WARMUP):
                for mode, namespace in namespaces.items():
                    body = pod(f"p{i}", restricted=True)
                    started = time.perf_counter()
                    outcome = kube.create(body, namespace, dry_run=dry_run)
                    elapsed = time.perf_counter() - started
                    if not outcome.allowed or outcome.warnings:
                        raise RuntimeError(f"{mode}: unexpected outcome {outcome}")
                    if i >= WARMUP:
                        samples[mode].append(elapsed * 1000)
        finally:
            for server in servers:
                server.stop()
    summary = {mode: {"median_ms": statistics.median(values), "p99_ms": percentile(values, 0.99)}
               for mode, values in samples.items()}
    for tree in trees:
        own = summary[f"webhook-{tree.label}"]
        own["ratio_to_native"] = own["median_ms"] / summary["native"]["median_ms"]
    return {"creates": creates, "warmup": WARMUP, "dry_run": dry_run, "workers": workers, "modes": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=200, help="creates per mode (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="celgate worker processes (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="?dryRun=All (admission runs, nothing is stored)")
    args = parser.parse_args(argv)
    data = run([current_tree()], args.creates, args.workers, args.dry_run)
    print(f"Pod creates ({'dry run' if args.dry_run else 'stored'}), {args.creates} per mode after {WARMUP} "
          f"warm-up, celgate --workers {args.workers}, kube-apiserver v1.35 on loopback")
    print(f"{'mode':<20} {'median ms':>10} {'p99 ms':>8} {'÷ native':>9}")
    for mode, figures in data["modes"].items():
        ratio = figures.get("ratio_to_native")
        print(f"{mode:<20} {figures['median_ms']:>10.2f} {figures['p99_ms']:>8.2f} "
              f"{'' if ratio is None else f'{ratio:.2f}':>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
