"""Workers retire after --max-requests-per-worker (cel-expr-python keeps what Python-implemented
functions return, so a long-lived worker only grows): each is replaced by a fresh one, under
load, with no error status and no wrong verdict — the same with one worker as with two."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from fault_reviews import FIXTURE_NAMESPACES, FIXTURE_POLICIES, fixture_cases
from steady_load import SteadyLoad
from tests.server_process import ServerProcess

LIMIT = 150  # requests per worker (plus up to 10% jitter)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_retire_after_their_requests_and_are_replaced_without_a_failure(tmp_path: Path, workers: int) -> None:
    args = ["--policies", str(FIXTURE_POLICIES), *FIXTURE_NAMESPACES, "--workers", str(workers),
            "--max-requests-per-worker", str(LIMIT)]
    with ServerProcess.with_certs(tmp_path, args) as server:
        context = ssl.create_default_context(cafile=server.ca)
        with SteadyLoad(server.url, lambda: context, fixture_cases(), threads=4) as load:
            load.wait_for(LIMIT * workers * 4)
        report = load.report
        deadline = time.monotonic() + 10
        while len(retired := [line for line in server.stderr_lines if "retired after its requests" in line]) < 2:
            assert time.monotonic() < deadline, "\n".join(server.stderr_lines[-20:])
            time.sleep(0.1)
        print(f"workers={workers}: {len(retired)} retirements; {report.summary()}")
        assert len(retired) >= 2
        assert not report.wrong_verdicts
        # Never an error status. A retiring worker closes its idle keep-alive connections; a request
        # racing that close fails in transport (Go's client, as kube-apiserver's, sends it again).
        assert all(o.status is None for o in report.failures), report.summary()
        assert len(report.failures) <= len(retired) * 4, report.summary()
        with server.client() as client:
            assert client.get("/healthz").status_code == 200
    assert server.process is not None and server.process.returncode == 0
