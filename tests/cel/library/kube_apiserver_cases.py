"""Expressions with the results kube-apiserver's own CEL libraries give, recorded as fixtures.

tests/fixtures/cel/library/<name>_kube_apiserver.jsonl holds one case a line: ``expr`` and
either ``error`` (cel-go's runtime error text) or ``type`` and ``value``. They were recorded
by evaluating each expression with k8s.io/apiserver v0.35.0's library functions in a cel-go
environment built with Go 1.25.5 (the toolchain of kube-apiserver v1.35). Opaque values are
recorded in the canonical form celgate stores: a Quantity in DecimalExponent form, a Semver
without build metadata (cel-go's equality ignores it), an IP/CIDR/URL as Go's String().
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhook.cel import CelEnvironment, CelEvaluationError
from webhook.cel.values import OpaqueValue

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cel" / "library"


@dataclass(frozen=True)
class Case:
    expr: str
    type: str | None = None
    value: Any = None
    error: str | None = None

    def __str__(self) -> str:
        return self.expr


def load(name: str) -> list[Case]:
    with open(FIXTURES / f"{name}_kube_apiserver.jsonl", encoding="utf-8") as lines:
        return [Case(**json.loads(line)) for line in lines]


def evaluate(env: CelEnvironment, expression: str) -> tuple[Any, str | None]:
    """(result, None) or (None, runtime error text)."""
    try:
        return env.compile(expression).evaluate({}), None
    except CelEvaluationError as exc:
        return None, exc.message


def mismatch(env: CelEnvironment, case: Case, *, float_ulps: int = 0) -> str | None:
    """None if ``case`` evaluates in celgate to what kube-apiserver recorded, else why not."""
    result, error = evaluate(env, case.expr)
    expected = f"error {case.error!r}" if case.error is not None else f"{case.type} {case.value!r}"
    got = f"error {error!r}" if error is not None else repr(result)
    if case.error is not None or error is not None:
        same = error == case.error
    elif isinstance(result, OpaqueValue):
        same = (result.type_name, result.canonical) == (case.type, case.value)
    elif case.type == "double":
        want = float(case.value)
        same = isinstance(result, float) and (result == want or _ulps_apart(result, want) <= float_ulps)
    else:
        same = result == case.value and type(result) is type(case.value)
    return None if same else f"{case.expr}: kube-apiserver gives {expected}, celgate {got}"


def mismatches(env: CelEnvironment, name: str, *, float_ulps: int = 0) -> list[str]:
    """Every recorded case of ``name`` that celgate evaluates differently."""
    found = (mismatch(env, case, float_ulps=float_ulps) for case in load(name))
    return [text for text in found if text is not None]


def _ulps_apart(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))
