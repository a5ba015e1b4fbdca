"""The alerts and the dashboard against a running webhook: a two-worker ``celgate serve``
(multiprocess metrics, as deployed) is sent a denied, a warned and a malformed request, and
every webhook series the PrometheusRule and the dashboard read is then on its /metrics page —
except the few that only an event this test cannot cause would create."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server_process import ServerProcess
from tests.test_monitoring import EXPORTED, EXPRESSIONS, metric_names
from tests.test_server import NAMESPACE_ARGS, POLICIES, pod, review

# Written by other processes (celgate scan --serve, celgate canary) or only on an event that
# needs a cluster or a broken policy.
ELSEWHERE_PREFIXES = ("celgate_scan_", "celgate_canary_")
NEEDS_AN_EVENT = {"celgate_policy_evaluation_errors_total", "celgate_policy_report_writes_total"}


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("live")
    server = ServerProcess.with_certs(tmp, ["--policies", str(POLICIES), *NAMESPACE_ARGS, "--workers", "2"])
    with server:
        with server.client() as client:
            for index in range(4):  # both workers see traffic
                client.post("/validate", json=review(pod(f"bad-{index}", privileged=True)))
                client.post("/validate", json=review(pod(f"unlabelled-{index}", labels={})))
            client.post("/validate", content=b"{not json", headers={"Content-Type": "application/json"})
            return client.get("/metrics").text


def test_every_webhook_series_the_alerts_and_the_dashboard_read_is_exported_live(scraped: str):
    read = set().union(*(metric_names(expr) for _, expr in EXPRESSIONS)) & EXPORTED.keys()
    expected = {name for name in read if not name.startswith(ELSEWHERE_PREFIXES)} - NEEDS_AN_EVENT
    assert expected, "no webhook series found in the rules and panels"
    present = {line.split("{", 1)[0].split(" ", 1)[0] for line in scraped.splitlines() if line and not line.startswith("#")}
    assert expected - present == set()


def test_the_live_check_series_carry_the_apiserver_labels(scraped: str):
    lines = [line for line in scraped.splitlines() if line.startswith("celgate_validating_admission_policy_check_total{")]
    assert lines
    for line in lines:
        for label in ("policy=", "policy_binding=", "error_type=", "enforcement_action="):
            assert label in line, line
