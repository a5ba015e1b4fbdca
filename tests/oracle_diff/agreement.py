"""Comparing celgate's answers with the oracle's, and naming the kind of a disagreement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def same_value(a: Any, b: Any) -> bool:
    """Equal JSON data where int, float and bool stay distinct (1, 1.0 and true differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@dataclass(frozen=True)
class Disagreement:
    case: dict[str, Any]
    celgate: Any
    oracle: Any
    kind: str  # what differs: value, error-kind, error-message, decision, ...

    def describe(self) -> str:
        source = self.case.get("expr") or self.case.get("policy", {}).get("spec")
        return f"[{self.kind}] {source}\n  celgate: {self.celgate}\n  cel-go:  {self.oracle}"


def expression_disagreement(case: dict[str, Any], celgate: dict[str, Any], oracle: dict[str, Any]) -> Disagreement | None:
    if "error" in celgate or "error" in oracle:
        if celgate.get("kind") != oracle.get("kind"):
            return Disagreement(case, celgate, oracle, "error-kind")
        if celgate.get("error") != oracle.get("error"):
            return Disagreement(case, celgate, oracle, f"{celgate.get('kind')}-message")
        return None
    if celgate.get("optional") != oracle.get("optional") or not same_value(celgate.get("value"), oracle.get("value")):
        return Disagreement(case, celgate, oracle, "value")
    return None


def policy_disagreement(case: dict[str, Any], celgate: dict[str, Any], oracle: dict[str, Any]) -> Disagreement | None:
    if bool(celgate.get("compileErrors")) != bool(oracle.get("compileErrors")):
        return Disagreement(case, celgate, oracle, "compile")
    if celgate.get("compileErrors"):
        return None  # both reject the policy (the texts differ by design: celgate names fields)
    for key in ("decisions", "auditAnnotations"):
        if not same_value(celgate.get(key), oracle.get(key)):
            return Disagreement(case, celgate, oracle, key)
    return None
