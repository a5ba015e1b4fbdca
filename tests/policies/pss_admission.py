"""Admitting manifests against the shipped Pod Security policies, the way `celgate test` does."""

from __future__ import annotations

import copy
import dataclasses
import re
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping, Sequence

import yaml

from webhook.admission.manifest import attributes_for_manifest
from webhook.policy.attributes import Operation
from webhook.policy.cluster_data import StaticClusterData, namespace_object
from webhook.policy.decision import AdmissionDecision
from webhook.policy.dispatcher import decide
from webhook.policy.loader import PolicySet

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
POD_SECURITY = REPO / "policies" / "pod-security"


def load_tool() -> ModuleType:
    """tools/psa-conformance as a module (it has no .py suffix, being a command)."""
    loader = importlib.machinery.SourceFileLoader("psa_conformance", str(REPO / "tools" / "psa-conformance"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up while the class is built
    loader.exec_module(module)
    return module


def manifest(name: str) -> dict[str, Any]:
    with open(FIXTURES / name) as f:
        return yaml.safe_load(f)


def admit(
    policy_set: PolicySet,
    obj: Mapping[str, Any],
    labels: Mapping[str, str],
    *,
    operation: Operation = "CREATE",
    old: Mapping[str, Any] | None = None,
    sub_resource: str = "",
    namespace: str = "team-a",
    params: Sequence[Mapping[str, Any]] = (),
    username: str = "",
) -> AdmissionDecision:
    """Decide on ``obj`` in a namespace carrying ``labels``, as `celgate test` would."""
    obj = copy.deepcopy(dict(obj))
    obj.setdefault("metadata", {})["namespace"] = namespace
    if old is not None:
        old = copy.deepcopy(dict(old))
        old.setdefault("metadata", {})["namespace"] = namespace
    attributes = attributes_for_manifest(obj, operation=operation, old_object=old)
    if sub_resource:
        attributes = dataclasses.replace(attributes, sub_resource=sub_resource)
    if username:
        attributes = dataclasses.replace(attributes, user_info=dataclasses.replace(attributes.user_info, username=username))
    cluster = StaticClusterData(namespaces=[namespace_object(namespace, dict(labels))], params=[dict(p) for p in params])
    return decide(policy_set, attributes, cluster)


def denying_policies(decision: AdmissionDecision) -> set[str]:
    return {e.policy for e in decision.evaluations if e.result == "deny"}


def messages_of(decision: AdmissionDecision, result: str = "deny") -> list[str]:
    return [e.message for e in decision.evaluations if e.result == result]


def violations(decision: AdmissionDecision, result: str = "deny") -> list[str]:
    """The checks' "reason (detail)" texts in the PodSecurity messages of ``result`` evaluations,
    in message order (every PSA check's text ends in its parenthesised detail)."""
    found: list[str] = []
    for message in messages_of(decision, result):
        _, _, listed = message.partition('": ')
        found.extend(re.split(r"(?<=\)), (?=[a-zA-Z])", listed) if listed else [])
    return found
