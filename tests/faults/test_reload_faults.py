"""An invalid policy file lands mid-reload, under load: the last good set keeps serving every
request (no failure, no changed verdict), the error shows in /policies, in the metrics and in the
log, and the next good file is picked up."""

from __future__ import annotations

import shutil
import ssl
import time
from pathlib import Path

import httpx

from fault_reviews import FIXTURE_NAMESPACES, FIXTURE_POLICIES, fixture_cases, named_pod_case
from server_tree import metric
from steady_load import SteadyLoad
from tests.server_process import ServerProcess

WORKERS = 2
GOOD_EXTRA = (FIXTURE_POLICIES / "no-privileged.yaml").read_text().replace("no-privileged", "no-forbidden-name").replace(
    "size(variables.privileged) == 0", "object.metadata.name != 'forbidden'")

# What a half-finished or mistaken edit leaves on disk (written in place, not renamed into place).
BROKEN = {
    "truncated-mid-write": GOOD_EXTRA[: len(GOOD_EXTRA) // 2],
    "cel-syntax-error": GOOD_EXTRA.replace("object.metadata.name != 'forbidden'", "object.metadata.name !="),
    "yaml-syntax-error": "apiVersion: admissionregistration.k8s.io/v1\nkind: [ValidatingAdmissionPolicy\n",
    "not-utf8": "apiVersion: v1\nkind: ValidatingAdmissionPolicy\n# \udcff\n",
    "unknown-field-type": GOOD_EXTRA.replace("failurePolicy: Fail", "failurePolicy: Sometimes"),
}


def _every_worker(server: ServerProcess, condition, timeout: float = 20.0) -> dict:
    """Poll /policies on fresh connections until ``condition`` holds for several answers in a row
    (each worker reloads on its own; a fresh connection may land on either)."""
    context = ssl.create_default_context(cafile=server.ca)
    deadline = time.monotonic() + timeout
    streak, status = 0, {}
    while time.monotonic() < deadline:
        with httpx.Client(base_url=server.url, verify=context, timeout=5) as client:
            status = client.get("/policies").json()
        streak = streak + 1 if condition(status) else 0
        if streak >= 4 * WORKERS:
            return status
        time.sleep(0.05)
    raise AssertionError(f"not every worker reached the state; last /policies: {status}")


def _metrics(server: ServerProcess) -> str:
    with server.client() as client:
        return client.get("/metrics").text


def test_bad_policy_files_mid_reload_keep_the_last_good_set_serving(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(FIXTURE_POLICIES, policies)
    extra = policies / "extra.yaml"
    extra.write_text(GOOD_EXTRA)
    args = ["--policies", str(policies), *FIXTURE_NAMESPACES, "--workers", str(WORKERS), "--reload-interval", "0.2"]
    with ServerProcess.with_certs(tmp_path, args) as server:
        status = _every_worker(server, lambda s: s["generation"] == 1 and s["lastReloadError"] is None)
        for fault in sorted(BROKEN):
            generation = status["generation"]
            forbidden = "forbidden" if generation % 2 == 1 else "forbidden-too"  # the name the set in force denies
            cases = [*fixture_cases(), named_pod_case(forbidden, allowed=False)]
            context = ssl.create_default_context(cafile=server.ca)
            with SteadyLoad(server.url, lambda: context, cases, threads=3) as load:
                load.wait_for(20)
                with extra.open("w", encoding="utf-8", errors="surrogateescape") as handle:  # in place, as an editor might
                    handle.write(BROKEN[fault])
                failed = _every_worker(server, lambda s: s["lastReloadError"] is not None)
                scraped = _metrics(server)
                load.wait_for(40)
            report = load.report
            print(f"{fault}: {report.summary()}; error: {failed['lastReloadError'][:120]!r}")
            # Served without a hitch by the last good set while the bad file sat there.
            assert failed["generation"] == generation and failed["policies"] == status["policies"]
            assert "extra.yaml" in failed["lastReloadError"]
            assert not report.failures, f"{fault}: {report.summary()}"
            assert metric(scraped, "celgate_policy_set_last_reload_success") == 0
            assert metric(scraped, "celgate_policy_set_generation") == generation
            assert any("reload rejected" in line and "extra.yaml" in line for line in server.stderr_lines)
            # Fixed: the next good file is a new generation, denying the other name.
            next_name = "forbidden-too" if forbidden == "forbidden" else "forbidden"
            extra.write_text(GOOD_EXTRA.replace("'forbidden'", f"'{next_name}'"))
            status = _every_worker(server, lambda s: s["generation"] == generation + 1 and s["lastReloadError"] is None)
        scraped = _metrics(server)
    assert metric(scraped, 'celgate_policy_reloads_total{result="failure"}') >= len(BROKEN)
    assert metric(scraped, 'celgate_policy_reloads_total{result="success"}') >= len(BROKEN)
    assert metric(scraped, "celgate_policy_set_last_reload_success") == 1
