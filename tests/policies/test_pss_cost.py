"""The Pod Security policies' cost bounds: tight enough that a typical Pod is decided by the
policy's plan (one cel-cpp program per filter, webhook/policy/plan.py), not by exact.py."""

from __future__ import annotations

import json
from pathlib import Path

from pss_admission import admit

from webhook.cel import PER_CALL_LIMIT
from webhook.policy import validator

POD = Path(__file__).parents[2] / "bench/fixtures/pod-4-containers.json"
EVERY_MODE = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}


def test_every_policy_is_planned_within_the_per_call_limit_for_a_typical_request(pss_policies):
    # strings up to 64 characters, lists and maps up to 16 entries (the request itself has 13 fields)
    for name, compiled in pss_policies.policies.items():
        stages = compiled.plans.validate.stages
        assert stages, name
        assert sum(stage.program.uniform_cost(64, 16) for stage in stages) <= PER_CALL_LIMIT // 2, name


def test_a_typical_pod_is_decided_without_the_exact_evaluator(pss_policies):
    pod = json.loads(POD.read_text())
    before = validator.FastPaths.exact_runs

    decision = admit(pss_policies, pod, EVERY_MODE)

    assert decision.allowed
    assert validator.FastPaths.exact_runs == before
