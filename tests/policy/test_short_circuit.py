"""Policies whose presence tests and variables are read after a comprehension short-circuits
(compat.py D30): before the fix, celgate admitted a Deployment with ``hostNetwork: true`` that
kube-apiserver denies. Run through ``celgate test``, the webhook's decision path."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from webhook.cli import main
from webhook.policy import composition

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "policy" / "short-circuit"


@pytest.mark.parametrize(("manifest", "message"), [
    ("host-network.yaml", "hostNetwork is not allowed"),
    ("host-pid.yaml", "hostPID is not allowed"),
])
def test_kind_filter_that_short_circuits_still_denies(manifest: str, message: str) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["test", "--output", "json", "--policies", str(FIXTURES / "policy.yaml"), str(FIXTURES / manifest)])
    assert code == 1
    [result] = json.loads(out.getvalue())["results"]
    assert result["allowed"] is False
    assert result["status"]["message"].endswith(f"denied request: {message}")


def test_inline_replaces_variables_by_their_definitions_recursively() -> None:
    definitions = {"a": "object.spec", "b": "has(variables.a.x) && variables.a.x // note"}
    assert composition.inline("variables.b || !has(variables.a)", definitions, {"a", "b"}) == (
        "(\nhas((\nobject.spec\n).x) && (\nobject.spec\n).x // note\n) || !true"
    )
