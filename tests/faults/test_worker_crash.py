"""A worker killed under load (``--workers 2``): the other keeps answering, the parent forks a
replacement, and the only failures are the requests on the dead worker's connections."""

from __future__ import annotations

import os
import signal
import ssl
import time
from pathlib import Path

from fault_reviews import FIXTURE_NAMESPACES, FIXTURE_POLICIES, fixture_cases
from server_tree import children, metric, wait_for_workers
from steady_load import SteadyLoad
from tests.server_process import ServerProcess

THREADS = 6
KILLS = 3


def test_a_killed_worker_is_replaced_and_only_its_own_connections_fail(tmp_path: Path) -> None:
    args = ["--policies", str(FIXTURE_POLICIES), *FIXTURE_NAMESPACES, "--workers", "2"]
    with ServerProcess.with_certs(tmp_path, args) as server:
        assert server.process is not None
        workers = wait_for_workers(server.process.pid, 2)
        context = ssl.create_default_context(cafile=server.ca)
        with SteadyLoad(server.url, lambda: context, fixture_cases(), threads=THREADS) as load:
            load.wait_for(200)
            for kill in range(KILLS):
                victim = workers[kill % 2]
                os.kill(victim, signal.SIGKILL)
                killed_at = time.monotonic()
                workers = wait_for_workers(server.process.pid, 2, excluding={victim})
                load.wait_for(200)  # the replacement serves its share
            settled = time.monotonic()
            load.wait_for(300)
        report = load.report
        print(f"worker kills: {KILLS}; {report.summary()}")
        # Never a wrong verdict, never a 5xx: a failure is a connection the dead worker held.
        assert not report.wrong_verdicts
        assert all(o.status is None for o in report.failures), report.summary()
        # Each kill can break at most the connections open to that worker (one per client thread).
        assert len(report.failures) <= KILLS * THREADS, report.summary()
        # Once the replacement runs, every request succeeds.
        assert not report.after(settled).failures, report.after(settled).summary()
        assert len(report.after(killed_at).answered) > 0
        with server.client() as client:
            scraped = client.get("/metrics").text
        assert metric(scraped, "celgate_admission_requests_in_flight") == 0  # the dead workers' gauges are gone
        assert len(children(server.process.pid)) == 2
    assert server.process.returncode == 0
