"""Property test: fixed policy-style expressions over arbitrary JSON data (hypothesis), through
celgate and the oracle. The expressions are the usual ones; the data is what shrinks, so a
failure ends at the smallest object that makes the two disagree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreement import expression_disagreement
from celgate_side import evaluate_expressions
from disagreements import classify
from oracle_process import OracleSession

EXPRESSIONS = [
    "has(object.spec.containers) && object.spec.containers.all(c, !has(c.securityContext)"
    " || c.securityContext.?privileged.orValue(false) != true)",
    "object.?spec.?hostNetwork.orValue(false)",
    "has(object.metadata.labels) && 'app' in object.metadata.labels",
    "object.spec.containers.map(c, c.name)",
    "object.spec.containers.exists_one(c, has(c.name))",
    "object.spec.containers.filter(c, c.name == 'a').size()",
    "size(object.spec) > 0",
    "object.spec.x + 1",
    "object.spec.x == object.spec.a",
    "object.spec.x in [dyn(1), dyn('a'), dyn(null)]",
    "string(object.spec.x)",
    "size(object.spec.x)",  # not int()/double(): their string and bool conversions differ (D11)
    "'%s'.format([object.spec.x])",
    "object.spec.all(k, v, k != 'x')",
    "object.metadata.labels.exists(k, object.metadata.labels[k] == 'a')",
    "[object.spec.x, object.spec.a].exists(v, v == null)",
]

_KEYS = st.sampled_from(["a", "x", "name", "spec", "labels", "securityContext", "privileged", "hostNetwork"])
_SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(alphabet="ab -%", max_size=4)
)
_DATA = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3), max_leaves=8,
)
_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries({}, optional={"labels": _DATA, "name": _DATA}),
        "spec": st.fixed_dictionaries(
            {}, optional={"containers": st.lists(_DATA, max_size=3) | _DATA, "x": _DATA, "a": _DATA,
                          "hostNetwork": _DATA},
        ),
    },
)


@pytest.fixture(scope="module")
def session(oracle: Path) -> Iterator[OracleSession]:
    started = OracleSession(oracle, "expr")
    yield started
    started.close()


@settings(max_examples=int(os.environ.get("CELGATE_FUZZ_EXAMPLES", "300")), derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(obj=_OBJECTS)
def test_policy_expressions_over_any_data_agree_with_cel_go(session: OracleSession, obj: dict[str, Any]) -> None:
    cases = [{"expr": expression, "vars": {"object": obj}} for expression in EXPRESSIONS]
    unexplained = []
    for case, ours in zip(cases, evaluate_expressions(cases)):
        found = expression_disagreement(case, ours, session.ask(case))
        if found is not None and classify(found) is None:
            unexplained.append(found.describe())
    assert not unexplained, "\n\n".join(unexplained)
