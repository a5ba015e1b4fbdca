"""The wall clock jumps under load (forward a day and a year, back a day), injected into the real
``celgate serve`` process through tests/faults/wall_clock/sitecustomize.py. Every deadline
celgate keeps (evaluation, request body, reload and poll intervals) runs on the monotonic clock,
so nothing may fail, time out or stall; the wall clock shows only in timestamps (/policies'
loadedAt, log lines). The certificate plan's clock seam is checked in test_certificate_clock.py."""

from __future__ import annotations

import os
import shutil
import ssl
import time
from pathlib import Path

from fault_reviews import FIXTURE_NAMESPACES, FIXTURE_POLICIES, fixture_cases, named_pod_case
from server_tree import metric
from steady_load import SteadyLoad
from tests.server_process import ServerProcess

HERE = Path(__file__).parent
DAY = 86400.0
JUMPS = [DAY, -DAY, 366 * DAY, 0.0]


def test_wall_clock_jumps_under_load_change_nothing_but_timestamps(tmp_path: Path) -> None:
    clock = tmp_path / "clock-offset"
    clock.write_text("0")
    policies = tmp_path / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    process = ServerProcess.with_certs(tmp_path, ["--policies", str(policies), *FIXTURE_NAMESPACES, "--workers", "2",
                                                  "--reload-interval", "0.2"])
    process.env["PYTHONPATH"] = os.pathsep.join([str(HERE / "wall_clock"), process.env.get("PYTHONPATH", "")])
    process.env["CELGATE_FAKE_CLOCK_FILE"] = str(clock)
    extra = (FIXTURE_POLICIES / "no-privileged.yaml").read_text().replace("no-privileged", "no-forbidden-name")
    with process as server:
        context = ssl.create_default_context(cafile=server.ca)
        cases = [*fixture_cases(), named_pod_case("forbidden", allowed=True)]
        with SteadyLoad(server.url, lambda: context, cases, threads=3) as load:
            load.wait_for(30)
            for jump in JUMPS:
                clock.write_text(str(jump))
                time.sleep(0.3)
                load.wait_for(60)
            jumped_back_at = time.monotonic()
            clock.write_text(str(-DAY))  # a reload after a backward jump must not wait a day
            (policies / "extra.yaml").write_text(extra.replace(
                "size(variables.privileged) == 0", "object.metadata.name != 'forbidden'"))
            with server.client() as client:
                while client.get("/policies").json()["generation"] != 2:
                    assert time.monotonic() - jumped_back_at < 10, "reload stalled after the clock went back"
                    time.sleep(0.1)
                loaded_at = client.get("/policies").json()["loadedAt"]
                scraped = client.get("/metrics").text
        report = load.report
        print(f"clock jumps {JUMPS}: {report.summary()}")
        assert not [o for o in report.outcomes if o.status != 200], report.summary()
        assert not [o for o in report.outcomes if o.case != "forbidden" and not o.correct]
        assert max(o.seconds for o in report.outcomes) < 5.0
        assert metric(scraped, "celgate_evaluation_timeouts_total") == 0
        assert abs(loaded_at - (time.time() - DAY)) < 60  # the injected clock really was a day behind
