"""SIGTERM with requests in flight (what the kubelet sends the container's PID 1, the parent):
in-flight requests complete, new connections are refused at once, the process exits 0 within
``--graceful-timeout``; a request that never completes is cut at the grace period, not later."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from fault_reviews import FIXTURE_NAMESPACES, FIXTURE_POLICIES, fixture_cases
from held_request import HeldRequest
from tests.server_process import ServerProcess

HELD = 4


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False  # a timeout: accepted into a backlog nobody serves — the failure we rule out


def _wait_refused(port: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _refused(port):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"port {port} still accepts connections {timeout}s after SIGTERM")


def test_sigterm_lets_in_flight_requests_finish_refuses_new_connections_and_exits_in_time(tmp_path: Path) -> None:
    args = ["--policies", str(FIXTURE_POLICIES), *FIXTURE_NAMESPACES, "--workers", "2",
            "--graceful-timeout", "10", "--body-timeout", "30"]
    compliant, privileged = fixture_cases()
    with ServerProcess.with_certs(tmp_path, args) as server:
        assert server.process is not None
        held = [HeldRequest(server, (compliant if i % 2 == 0 else privileged).body) for i in range(HELD)]
        time.sleep(1.0)  # their headers and first halves are in: the handlers wait for the rest
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        refused_after = _wait_refused(server.port, 3.0)
        for request in held:
            request.release()
        for request in held:
            request.join()
        server.process.wait(15)
        exited_after = time.monotonic() - signalled
        print(f"SIGTERM: new connections refused after {refused_after * 1000:.0f} ms, "
              f"{HELD} in-flight requests answered, exit {server.process.returncode} after {exited_after:.2f}s")
        assert [r.error for r in held] == [None] * HELD
        assert [r.response.status_code for r in held] == [200] * HELD  # type: ignore[union-attr]
        assert [r.response.json()["response"]["allowed"] for r in held] == [i % 2 == 0 for i in range(HELD)]  # type: ignore[union-attr]
        assert server.process.returncode == 0
        assert exited_after < 10.0, "\n".join(server.stderr_lines[-15:])


def test_a_request_that_never_completes_is_cut_at_the_grace_period(tmp_path: Path) -> None:
    args = ["--policies", str(FIXTURE_POLICIES), *FIXTURE_NAMESPACES, "--workers", "2",
            "--graceful-timeout", "2", "--body-timeout", "60"]
    compliant, _ = fixture_cases()
    with ServerProcess.with_certs(tmp_path, args) as server:
        assert server.process is not None
        stuck = HeldRequest(server, compliant.body)
        time.sleep(1.0)
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        server.process.wait(20)
        exited_after = time.monotonic() - signalled
        stuck.release()
        stuck.join()
        print(f"SIGTERM with a stuck request: exit {server.process.returncode} after {exited_after:.2f}s "
              f"(grace 2s); the stuck client saw {stuck.error or stuck.response}")
        assert 1.5 <= exited_after < 6.0
        assert server.process.returncode == 0
        assert stuck.response is None or stuck.response.status_code != 200 or stuck.error is not None
