"""Objects per second on the ``celgate test`` evaluation path (not a test; run it directly).

    python bench/cli_bench.py [--seconds 5]

Admits every Pod of the Pod Security conformance corpus for restricted v1.35 (pass and fail)
against the shipped restricted-profile policies (policies/pod-security/), in a namespace
labelled for the restricted level, through webhook.admission.dry_run — the code ``celgate
test`` runs. Falls back to examples/policies when the shipped policies are absent.
Environment: CELGATE_PSA_DIR overrides the corpus (default ../shared/conformance/psa from the
repo root); CELGATE_BENCH_POLICIES overrides the policy directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from webhook.admission.dry_run import admit_documents, cluster_for
from webhook.documents import Document, read_documents
from webhook.policy.loader import load_policy_set

ROOT = Path(__file__).resolve().parents[1]
CORPUS_SUBDIR = Path("restricted/v1.35")
RESTRICTED_NAMESPACE = "psa-restricted"
RESTRICTED_LABELS = {"pod-security.kubernetes.io/enforce": "restricted"}


def corpus_dir() -> Path:
    base = Path(os.environ.get("CELGATE_PSA_DIR") or ROOT.parent / "shared/conformance/psa")
    return base / CORPUS_SUBDIR


def policy_paths() -> list[str]:
    override = os.environ.get("CELGATE_BENCH_POLICIES")
    if override:
        return [override]
    shipped = ROOT / "policies/pod-security"
    if shipped.is_dir() and any(shipped.rglob("*.yaml")):
        return [str(shipped)]
    print("policies/pod-security/ not found: benchmarking examples/policies instead", file=sys.stderr)
    return [str(ROOT / "examples/policies"), str(ROOT / "examples/params")]


def pods_in_restricted_namespace(corpus: Path) -> list[Document]:
    documents = read_documents(corpus)
    for document in documents:
        document.obj.setdefault("metadata", {})["namespace"] = RESTRICTED_NAMESPACE
    return documents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum measuring time (default 5)")
    args = parser.parse_args()

    corpus = corpus_dir()
    if not corpus.is_dir():
        print(f"no corpus at {corpus}; set CELGATE_PSA_DIR", file=sys.stderr)
        return 2
    pods = pods_in_restricted_namespace(corpus)
    paths = policy_paths()
    started = time.perf_counter()
    policy_set = load_policy_set(paths)
    load_seconds = time.perf_counter() - started

    # Warm-up round: compile caches, first-call imports; also gives the verdict counts.
    cluster = cluster_for(pods, namespace_labels={RESTRICTED_NAMESPACE: RESTRICTED_LABELS})
    results = admit_documents(policy_set, pods, cluster)
    agree = sum(result.decision.allowed == ("/pass/" in result.document.source) for result in results)

    # CPU time too: the wall clock is unreliable on a machine shared with other work.
    rounds, elapsed, cpu = 0, 0.0, 0.0
    while elapsed < args.seconds:
        started, cpu_started = time.perf_counter(), time.process_time()
        cluster = cluster_for(pods, namespace_labels={RESTRICTED_NAMESPACE: RESTRICTED_LABELS})
        admit_documents(policy_set, pods, cluster)
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        rounds += 1

    objects = rounds * len(pods)
    print(f"corpus:   {corpus} ({len(pods)} Pods)")
    print(f"policies: {', '.join(paths)} (loaded in {load_seconds:.2f} s)")
    print(f"verdicts: {sum(r.decision.allowed for r in results)} allowed, "
          f"{sum(not r.decision.allowed for r in results)} denied; "
          f"{agree}/{len(results)} agree with the corpus's pass/fail directories")
    print(f"{objects / elapsed:.1f} objects/s ({objects} objects in {elapsed:.2f} s, {rounds} rounds); "
          f"{objects / cpu:.1f} objects per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
