"""Requests per second and latency of a real ``celgate serve`` under load (not a test; run it).

    python bench/webhook_load.py [--workers 2] [--duration 10] [--warmup 2] [--client auto|wrk|python]

Starts ``celgate serve`` as its own process on 127.0.0.1 with a freshly generated CA and
serving certificate, the shipped restricted Pod Security policies (policies/pod-security/)
and namespace ``bench-restricted`` labelled pod-security.kubernetes.io/enforce=restricted.
A separate client process then POSTs the AdmissionReview of a compliant 3-container Pod
(bench/fixtures/webhook/) over TLS on keep-alive connections, at 1, 8 and 64 concurrent
connections: a warm-up, then a fixed measuring window per level. The client is ``wrk`` when
installed (Debian package ``wrk``), else fixtures/webhook/admission_review_client.py (asyncio +
httpx) in its own process.

Per level it prints requests/s, p50/p99/p99.9 latency, transport errors, non-200 answers,
"closed" answers (allowed:false with code 500: the server missed its evaluation deadline and
failed closed), "denied" answers (a policy said no: the fixture is wrong; the bench stops), the
number of decisions and mean of celgate_admission_duration_seconds over the window
(from /metrics, after it has finished what the client abandoned), the server's CPU time per
decision (the figure least disturbed by a busy host) and its resident memory.
Exit code: 0 clean; 1 any transport error, non-200, closed or denied answer, deadline miss or
unclean server exit; the first denial stops the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures/webhook"
REVIEW_FIXTURE = FIXTURES / "admission-review-pod-3-containers.json"
WRK_SCRIPT = FIXTURES / "admission-review.lua"
PYTHON_CLIENT = FIXTURES / "admission_review_client.py"
NAMESPACE = "bench-restricted"
NAMESPACE_LABELS = "pod-security.kubernetes.io/enforce=restricted"
LEVELS = (1, 8, 64)
SHIPPED_POLICIES = ROOT / "policies/pod-security"
FALLBACK_POLICIES = ROOT / "tests/fixtures/server/policies"
_SERVING = re.compile(r"on https://127\.0\.0\.1:(\d+)/validate")
_DURATION_SAMPLE = re.compile(r"^celgate_admission_duration_seconds_(sum|count)\{[^}]*\} (\S+)$", re.M)
_TIMEOUT_SAMPLE = re.compile(r"^celgate_evaluation_timeouts_total(?:\{[^}]*\})? (\S+)$", re.M)


class BenchError(Exception):
    """The bench cannot produce trustworthy figures; the message says why."""


@dataclass
class LevelResult:
    connections: int
    seconds: float
    requests: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int  # transport: connect/read/write failures and client timeouts
    non200: int
    denied: int  # by a policy: the fixture or the policies are wrong
    failed_closed: int  # allowed:false with code 500: the server missed its deadline or hit an internal error
    first_bad: str = ""
    server_mean_ms: float | None = None
    server_count: int = 0
    server_timeouts: int = 0
    cpu_ms_per_request: float | None = None  # less sensitive to a busy host than latency is
    rss_mb: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class PolicyChoice:
    path: Path
    note: str
    namespace_labels: str  # for --namespace-labels, after NAME=


def choose_policies() -> PolicyChoice:
    if SHIPPED_POLICIES.is_dir() and any(SHIPPED_POLICIES.rglob("*.yaml")):
        return PolicyChoice(SHIPPED_POLICIES, "shipped restricted Pod Security policies (policies/pod-security/)",
                            NAMESPACE_LABELS)
    # The fallback's Deny binding selects namespaces labelled enforce=true.
    return PolicyChoice(FALLBACK_POLICIES, "policies/pod-security/ not there yet: using tests/fixtures/server/"
                        "policies (NOT the Pod Security set; figures are not comparable)",
                        NAMESPACE_LABELS + ",enforce=true")


class CelgateServer:
    """``celgate serve`` in its own process group, stderr to a log file that is scanned afterwards."""

    def __init__(self, workdir: Path, policies: PolicyChoice, workers: int, log_level: str,
                 kubeconfig: str | None = None, extra_args: list[str] | None = None) -> None:
        from webhook.certs import generate_bundle, write_bundle

        certs = write_bundle(generate_bundle(dns_names=["localhost"], ip_addresses=["127.0.0.1"]), workdir / "tls")
        self.ca = str(certs.ca_cert)
        self.log_path = workdir / "serve.log"
        executable = shutil.which("celgate")
        command = [executable] if executable else [sys.executable, "-m", "webhook.cli"]
        self.command = [
            *command, "serve", "--host", "127.0.0.1", "--port", "0", "--workers", str(workers),
            "--tls-cert", str(certs.cert), "--tls-key", str(certs.key), "--policies", str(policies.path),
            "--log-level", log_level,
            # With a cluster the namespace and its labels are the cluster's (bench/compliance_overhead.py).
            *(["--kubeconfig", kubeconfig] if kubeconfig else ["--namespace-labels", f"{NAMESPACE}={policies.namespace_labels}"]),
            *(extra_args or []),
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _SERVING.search(self.log_path.read_text(errors="replace"))
            if match:
                self.url = f"https://127.0.0.1:{match.group(1)}"
                break
            if self.process.poll() is not None:
                raise BenchError(f"celgate serve exited with {self.process.returncode}:\n{self.log_tail()}")
            time.sleep(0.05)
        else:
            raise BenchError(f"celgate serve did not announce its port in {timeout:g}s:\n{self.log_tail()}")
        with self.client() as client:
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise BenchError(f"celgate serve never became ready:\n{self.log_tail()}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ca, timeout=30)

    def pids(self) -> list[int]:
        """The serve process and its worker processes."""
        if self.process is None or self.process.poll() is not None:
            return []
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            children = []
        return pids + [int(pid) for pid in children]

    def rss_mb(self) -> float:
        total_kb = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            total_kb += int(match.group(1)) if match else 0
        return total_kb / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the serve process and its workers so far."""
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_problems(self) -> list[str]:
        """Log lines above info that are not decision records: errors, tracebacks, worker restarts."""
        problems = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if _SERVING.search(line) or line.startswith("celgate: "):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and (record.get("msg") == "admission decision"
                                             or record.get("level") in ("debug", "info")):
                continue
            problems.append(line)
        return problems

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


@dataclass(frozen=True)
class ServerTotals:
    """celgate_admission_duration_seconds (sum, count over every label set) and evaluation timeouts."""

    seconds: float
    decisions: int
    timeouts: int


def server_totals(client: httpx.Client) -> ServerTotals:
    text = client.get("/metrics").text
    total, count = 0.0, 0
    for kind, value in _DURATION_SAMPLE.findall(text):
        if kind == "sum":
            total += float(value)
        else:
            count += int(float(value))
    timeouts = sum(int(float(value)) for value in _TIMEOUT_SAMPLE.findall(text))
    return ServerTotals(total, count, timeouts)


def preflight(server: CelgateServer, review: dict[str, Any]) -> str:
    """Prove the policies are live before measuring: the fixture is allowed, a privileged copy is not."""
    bad = json.loads(json.dumps(review))
    bad["request"]["object"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    with server.client() as client:
        answer = client.post("/validate", json=review)
        if answer.status_code != 200 or answer.json()["response"]["allowed"] is not True:
            raise BenchError(f"the fixture {REVIEW_FIXTURE.name} is not allowed (fix the fixture): "
                             f"HTTP {answer.status_code} {answer.text[:800]}")
        denied = client.post("/validate", json=bad).json()["response"]
        if denied["allowed"] is not False:
            raise BenchError("a privileged copy of the fixture was allowed: the restricted policies are not "
                             "enforced in namespace " + NAMESPACE + ", so the figures would measure nothing")
        return denied.get("status", {}).get("message", "")


def client_command(kind: str, server: CelgateServer, body: Path, connections: int, seconds: int,
                   threads: int) -> list[str]:
    if kind == "wrk":
        return ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{seconds}s",
                "--timeout", "30s", "-s", str(WRK_SCRIPT), f"{server.url}/validate", "--", str(body)]
    return [sys.executable, str(PYTHON_CLIENT), server.url, server.ca, str(body), str(connections), str(seconds)]


def drive(kind: str, server: CelgateServer, body: Path, connections: int, seconds: int,
          threads: int) -> LevelResult:
    """Run the load client process for ``seconds`` and read its ``CELGATE_RESULT`` line."""
    done = subprocess.run(client_command(kind, server, body, connections, seconds, threads),
                          capture_output=True, text=True, timeout=seconds + 120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("CELGATE_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"{kind} load client failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    data = json.loads(line.removeprefix("CELGATE_RESULT "))
    return LevelResult(
        connections=connections, seconds=data["duration_us"] / 1e6, requests=data["requests"],
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, p999_ms=data["p999_us"] / 1000,
        errors=data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"],
        non200=data["non200"], denied=data["denied"], failed_closed=data["failed_closed"],
        first_bad=data["first_bad"],
    )


def wait_until_idle(server: CelgateServer, client: httpx.Client, limit: float = 120.0) -> ServerTotals:
    """Let the server finish requests a stopped client abandoned, so they do not leak into the next window.

    Idle: no new decision and under 5% of a core used for a second (an evaluation that missed
    its deadline goes on in its thread after the answer was sent).
    """
    deadline = time.monotonic() + limit
    last, last_cpu = server_totals(client), server.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current, cpu = server_totals(client), server.cpu_seconds()
        if current.decisions == last.decisions and cpu - last_cpu < 0.05:
            return current
        last, last_cpu = current, cpu
    raise BenchError(f"celgate serve was still answering abandoned requests {limit:g}s after the client stopped")


def measure_level(server: CelgateServer, client_kind: str, body: Path, connections: int,
                  args: argparse.Namespace) -> LevelResult:
    with server.client() as client:
        if args.warmup > 0:
            drive(client_kind, server, body, connections, args.warmup, args.threads)
        before = wait_until_idle(server, client)
        cpu_before = server.cpu_seconds()
        result = drive(client_kind, server, body, connections, args.duration, args.threads)
        after = wait_until_idle(server, client)
        cpu_after = server.cpu_seconds()
    result.server_count = after.decisions - before.decisions
    # A decision that missed the deadline is observed with elapsed 0 (server.py _failed_closed), so
    # the mean is taken over the decisions that finished in time.
    result.server_timeouts = after.timeouts - before.timeouts
    in_time = result.server_count - result.server_timeouts
    if in_time:
        result.server_mean_ms = (after.seconds - before.seconds) / in_time * 1000
    if result.server_count:
        result.cpu_ms_per_request = (cpu_after - cpu_before) / result.server_count * 1000
    result.rss_mb = server.rss_mb()
    return result


_COLUMNS = ("conns", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "requests", "errors", "non200", "closed",
            "denied", "server n", "srv t/o", "server mean ms", "CPU ms/req", "RSS MB")


def _row(cells: list[str]) -> str:
    return " ".join(cell.rjust(max(len(name), 8)) for cell, name in zip(cells, _COLUMNS))


def print_level(result: LevelResult) -> None:
    def optional(value: float | None, digits: int) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    print(_row([str(result.connections), f"{result.rps:.1f}", f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}",
                f"{result.p999_ms:.2f}", str(result.requests), str(result.errors), str(result.non200),
                str(result.failed_closed), str(result.denied), str(result.server_count),
                str(result.server_timeouts), optional(result.server_mean_ms, 3),
                optional(result.cpu_ms_per_request, 1), f"{result.rss_mb:.1f}"]), flush=True)


def choose_client(requested: str) -> str:
    if requested == "wrk" and shutil.which("wrk") is None:
        raise BenchError("--client wrk: wrk is not installed (apt-get install -y wrk)")
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    return requested


def print_setup(args: argparse.Namespace, client_kind: str, policies: PolicyChoice, body: Path) -> None:
    print(f"server:   celgate serve, {args.workers} worker(s), log level {args.log_level}, TLS on 127.0.0.1")
    print(f"policies: {policies.note}")
    print(f"request:  {args.review or REVIEW_FIXTURE.relative_to(ROOT)} ({body.stat().st_size} bytes, 3 containers), "
          f"namespace {NAMESPACE} " + ("labelled in the cluster" if args.kubeconfig else "enforce=restricted"))
    if args.serve_arg:
        print(f"serve:    extra arguments {' '.join(args.serve_arg)}")
    if client_kind == "wrk":
        client_note = f"wrk, {args.threads} thread(s) max (separate process; does not verify the certificate)"
    else:
        client_note = (f"{PYTHON_CLIENT.name} (asyncio + httpx, separate process; wrk not installed; "
                       "slower than wrk at high concurrency)")
    print(f"client:   {client_note}; keep-alive; warm-up {args.warmup}s, then {args.duration}s per level")
    print(f"host:     {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (shared with the client)")


def report_server_exit(code: int | None, problems: list[str]) -> bool:
    """Print how the server ended; False when it crashed, logged an error or restarted a worker."""
    # With one worker uvicorn re-raises the SIGTERM it handled after a graceful shutdown.
    clean_exit = code in (0, -signal.SIGTERM)
    print()
    print(f"server exit after SIGTERM: {code} ({'clean' if clean_exit else 'NOT CLEAN'}); "
          f"log lines above info: {len(problems)}")
    for line in problems[:20]:
        print(f"  {line[:300]}")
    return clean_exit and not any(
        "Traceback" in line or '"level":"error"' in line or "restarting" in line for line in problems
    )


def bench(args: argparse.Namespace) -> int:
    client_kind = choose_client(args.client)
    review = json.loads((args.review or REVIEW_FIXTURE).read_text())
    policies = choose_policies()
    with tempfile.TemporaryDirectory(prefix="celgate-load-") as scratch:
        workdir = Path(scratch)
        body = workdir / "review.json"
        body.write_text(json.dumps(review, separators=(",", ":")))
        server = CelgateServer(workdir, policies, args.workers, args.log_level, args.kubeconfig, args.serve_arg)
        print_setup(args, client_kind, policies, body)
        failed = False
        try:
            server.start()
            print(f"ready:    {server.url}, server RSS {server.rss_mb():.1f} MB; privileged copy denied: "
                  f"{preflight(server, review)[:120]}")
            print()
            print(_row(list(_COLUMNS)))
            for connections in args.levels:
                result = measure_level(server, client_kind, body, connections, args)
                print_level(result)
                if result.requests < 1000:
                    print(f"      ^ only {result.requests} samples: p99.9 is the maximum"
                          + (", and so is p99" if result.requests < 100 else "") + "; raise --duration")
                if result.denied:
                    raise BenchError(f"{result.denied} answer(s) were not allowed at {connections} connections; "
                                     f"the fixture or the server is wrong. First: {result.first_bad}")
                if result.errors or result.non200 or result.failed_closed or result.server_timeouts:
                    failed = True
                    print(f"      ^ {result.errors} transport error(s), {result.non200} non-200, "
                          f"{result.failed_closed} failed closed ({result.server_timeouts} deadline misses "
                          f"counted by the server, abandoned requests included); first: "
                          f"{result.first_bad or '(none seen by the client)'}")
                if not server.alive():
                    raise BenchError(f"celgate serve died during the run:\n{server.log_tail()}")
        finally:
            code = server.stop()
            problems = server.log_problems()
        if not report_server_exit(code, problems):
            failed = True
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="celgate serve worker processes (default 2)")
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per level (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each level (default 2)")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS),
                        help="concurrent connections to measure (default 1 8 64)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator (default: wrk when installed)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (default 1: one C thread saturates this server; cores are scarce)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="server log level (default info: one decision line per request, as deployed)")
    parser.add_argument("--kubeconfig", help="give celgate serve this cluster (namespace bench-restricted must exist there)")
    parser.add_argument("--review", type=Path, help="another AdmissionReview to send (default: the 3-container fixture)")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for celgate serve (repeatable; --serve-arg=--no-policy-reports)")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.workers < 1 or any(level < 1 for level in args.levels):
        parser.error("--duration and --workers must be at least 1, --warmup at least 0, levels at least 1")
    try:
        return bench(args)
    except BenchError as exc:
        print(f"\nwebhook_load: FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
