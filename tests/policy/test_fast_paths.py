"""Every fast path against the exact evaluation: identical decisions, messages, warnings, audit
annotations and cost outcomes.

With ``FastPaths.enabled`` off, each policy is evaluated by exact.py alone (cel-go's runtime cost
over the checked AST, lazy variables charged once); on, the cheap path runs first (inlined
variables over one shared activation, cached uniform cost bounds, provisional budget charges,
skipped messageExpressions, variables shared across policies of a request). The inputs: the
PSA v1.35 corpus under every shipped profile and mode (enforce, warn, audit), the limit and
short-circuit fixtures, and the policy fixtures of these tests.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from webhook.admission.manifest import attributes_for_manifest
from webhook.policy import validator
from webhook.policy.cluster_data import StaticClusterData, namespace_object
from webhook.policy.dispatcher import decide
from webhook.policy.loader import load_policy_set

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "conformance" / "psa"
FIXTURES = ROOT / "tests" / "fixtures" / "policy"
MODES = ("enforce", "warn", "audit")


def _comparable(decision: Any) -> Any:
    plain = dataclasses.asdict(decision)
    plain.pop("elapsed_seconds", None)
    for evaluation in plain.get("evaluations", ()):
        for key in [k for k in evaluation if "elapsed" in k]:
            evaluation.pop(key)
        for check in evaluation.get("checks", ()):
            check.pop("elapsed_seconds", None)
    return plain


def _both(policy_set: Any, request: Any, cluster: StaticClusterData) -> tuple[Any, Any, int]:
    validator.FastPaths.enabled = True
    fast = decide(policy_set, request, cluster)
    validator.FastPaths.enabled = False
    before = validator.FastPaths.exact_runs
    try:
        exact = decide(policy_set, request, cluster)
    finally:
        validator.FastPaths.enabled = True
    return _comparable(fast), _comparable(exact), validator.FastPaths.exact_runs - before


def _psa_pods() -> Iterator[tuple[str, str, dict]]:
    with open(CORPUS / "index.csv", newline="") as index:
        for row in csv.DictReader(index):
            if row["version"] == "v1.35":
                yield row["path"], row["level"], yaml.safe_load((CORPUS / row["path"]).read_text())


@pytest.mark.skipif(not (CORPUS / "index.csv").is_file(), reason="the PSA corpus (../shared/conformance/psa) is not beside the repository")
def test_shipped_pod_security_policies_decide_the_same_with_fast_paths_off() -> None:
    policy_set = load_policy_set([ROOT / "policies"])
    namespaces = [namespace_object(f"{level}-{mode}", {f"pod-security.kubernetes.io/{mode}": level})
                  for level in ("baseline", "restricted") for mode in MODES]
    cluster = StaticClusterData(namespaces=namespaces)
    compared = exact_runs = 0
    for path, level, pod in _psa_pods():
        for mode in MODES:
            pod.setdefault("metadata", {})["namespace"] = f"{level}-{mode}"
            fast, exact, runs = _both(policy_set, attributes_for_manifest(pod), cluster)
            assert fast == exact, f"{path} in a {mode}={level} namespace"
            compared += 1
            exact_runs += runs
    assert compared >= 3 * 148
    assert exact_runs > 0  # the exact evaluator really ran (Unsupported falls back to the fast path)


@pytest.mark.parametrize("fixture", ["limits/policies.yaml", "short-circuit/policy.yaml"])
def test_limit_and_short_circuit_fixtures_decide_the_same_with_fast_paths_off(fixture, request_for) -> None:
    policy_set = load_policy_set([FIXTURES / fixture])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "default"},
           "spec": {"containers": [{"name": "web", "image": "x", "env": [{"name": f"V{i}"} for i in range(400)]}]}}
    objects = [
        {**pod, "metadata": {"name": f"p-{label}", "namespace": "default", "labels": {"limits": label}}}
        for label in ("env-exists", "env-never")
    ]
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "default", "labels": {"limits": "variable-once"}},
                    "data": {"big": "ab" * 300_000}})
    objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
                    "spec": {"template": {"spec": {"hostNetwork": True, "hostPID": True, "containers": [{"name": "web", "image": "x"}]}}}})
    for obj in objects:
        fast, exact, _ = _both(policy_set, request_for(obj), StaticClusterData())
        assert fast == exact, obj["metadata"]["name"]


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_policy_fixtures_decide_the_same_with_fast_paths_off(fixture, request_for, configmap) -> None:
    policy_set = load_policy_set([FIXTURES / fixture])
    objects = [
        configmap("cm"), configmap("cm", data={"a": "1", "b": "2", "c": "3"}), configmap("cm", labels={"owner": "eve"}),
        configmap("cm", labels={"owner": "bob"}, data={"limit": "bad"}),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "labels": {"app": "x"}},
         "spec": {"containers": [{"name": "c", "image": "nginx:latest", "securityContext": {"privileged": True}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
         "spec": {"replicas": 9, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
    ]
    cm = configmap("cm")
    del cm["data"]
    objects.append(cm)
    for obj in objects:
        fast, exact, _ = _both(policy_set, request_for(obj), StaticClusterData(namespaces=[namespace_object("default", {})]))
        assert fast == exact, (fixture, obj)
