"""The shipped PSS policies give Pod Security Admission's verdict on every v1.35 fixture
(tools/psa-conformance --version all runs the other versions).

The corpus is PSA's own test data (../shared/conformance/psa, or $CELGATE_PSA_CORPUS); each
fixture is admitted by tools/psa-conformance's ``evaluate``, the same code the command runs.
"""

from __future__ import annotations

import pytest
from pss_admission import admit, load_tool, manifest, messages_of

TOOL = load_tool()
CORPUS = TOOL.corpus_root()  # raises CorpusError naming the path and the variable to set
CASES = TOOL.read_cases(CORPUS, [TOOL.LATEST])


@pytest.fixture(scope="module")
def cluster():
    return TOOL.cluster(CASES)


def test_latest_corpus_covers_both_levels_and_outcomes():
    counts = {(c.level, c.expect) for c in CASES}
    assert counts == {("baseline", "allow"), ("baseline", "deny"), ("restricted", "allow"), ("restricted", "deny")}
    assert len(CASES) == 148  # 49 baseline + 99 restricted (corpus README, tag v0.36.2)


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_fixture_gets_the_psa_verdict(pss_policies, cluster, case):
    outcome = TOOL.evaluate(pss_policies, cluster, CORPUS, case)

    assert outcome.verdict == case.expect, f"{case.path}: {outcome.messages}"
    assert outcome.substring_agrees, f"{case.path}: no message contains {case.expected_substring!r}: {outcome.messages}"


def test_host_network_defaults_host_ports_which_baseline_then_denies(pss_policies):
    pod = manifest("hostnetwork-pod.yaml")  # ports: [{containerPort: 8080}], no hostPort written

    decision = admit(pss_policies, pod, {"pod-security.kubernetes.io/enforce": "baseline"})

    assert messages_of(decision) == [
        'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'hostPort (container "app" uses hostPort 8080)'
    ]


def test_table_reports_agreement_per_level_and_version():
    case = TOOL.Case("baseline/v1.35/fail/x.yaml", "baseline", "v1.35", "deny", "privileged", "privileged")
    outcomes = [
        TOOL.Outcome(case, allowed=False, messages=("privileged (container ...)",), elapsed_seconds=0.0),
        TOOL.Outcome(case, allowed=True, messages=(), elapsed_seconds=0.0),
    ]

    lines = TOOL.table(outcomes).splitlines()

    assert lines[1].split() == ["baseline", "v1.35", "2", "1/2", "1/2"]
    assert TOOL.misses(outcomes) == [
        "MISS baseline/v1.35/fail/x.yaml: expected deny containing 'privileged', got allow"
    ]


def test_missing_corpus_is_a_clear_error(tmp_path, capsys):
    assert TOOL.main(["--corpus", str(tmp_path)]) == 2
    assert "no PSA conformance corpus" in capsys.readouterr().err


def test_unknown_version_is_a_clear_error(capsys):
    assert TOOL.main(["--version", "v9.99"]) == 2
    assert "no version directory v9.99" in capsys.readouterr().err


def test_unloadable_policies_are_a_clear_error(tmp_path, capsys):
    assert TOOL.main(["--policies", str(tmp_path / "absent")]) == 2
    assert "problem loading policies" in capsys.readouterr().err
