"""Seed inputs for each fuzz target: the repository's fixtures and the PSA corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
PSA_CORPUS = Path(os.environ.get("CELGATE_PSA_CORPUS") or REPO.parent / "shared" / "conformance" / "psa")
LARGEST_SEED = 64 * 1024


def psa_fixtures(version: str = "v1.35") -> list[Path]:
    """The corpus's Pods for ``version`` (none when the corpus is absent)."""
    return sorted(PSA_CORPUS.glob(f"*/{version}/*/*.yaml")) if PSA_CORPUS.is_dir() else []


def review_for(obj: dict[str, Any], namespace: str = "fuzz", uid: str = "fuzz-0000") -> dict[str, Any]:
    """The AdmissionReview the API server sends for creating ``obj`` (a Pod) in ``namespace``."""
    obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": str(obj["metadata"].get("name", "")), "namespace": namespace, "operation": "CREATE",
            "userInfo": {"username": "fuzzer", "groups": ["system:authenticated"]},
            "object": obj, "oldObject": None, "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def _small_files(root: Path, suffixes: tuple[str, ...] = (".yaml", ".yml", ".json")) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in suffixes and p.is_file() and p.stat().st_size <= LARGEST_SEED)


def seeds(target: str) -> list[bytes]:
    if target == "review":
        pods = [yaml.safe_load(path.read_text()) for path in psa_fixtures()[::3]]
        return [json.dumps(review_for(pod)).encode() for pod in pods if isinstance(pod, dict)] or [
            json.dumps(review_for({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                   "spec": {"containers": [{"name": "a", "image": "nginx"}]}})).encode()]
    if target == "documents":
        return [p.read_bytes() for p in _small_files(FIXTURES)] + [p.read_bytes() for p in psa_fixtures()[::10]]
    if target == "policy":
        policy_files = [p for p in _small_files(FIXTURES) if "polic" in str(p.relative_to(FIXTURES))
                        and p.stat().st_size <= 8 * 1024]
        return [p.read_bytes() for p in policy_files]
    raise ValueError(f"no seeds for target {target!r}")


def write_corpus(target: str, directory: Path) -> Path:
    """The seeds as files, the layout libFuzzer reads a corpus in."""
    directory.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds(target)):
        (directory / f"seed-{number:04d}").write_bytes(seed)
    return directory
