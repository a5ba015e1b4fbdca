"""Requests per second and latency of a real ``celgate serve`` under load.

As a section of ``python -m bench`` (``--only webhook``), or alone for one tree:

    python -m bench.webhook_load [--workers 2] [--duration 8] [--warmup 2] [--levels 1 8 64 256]
                                 [--kubeconfig FILE] [--review FILE] [--serve-arg=ARG ...]

Starts ``celgate serve`` of a tree as its own process on 127.0.0.1 with a freshly generated CA
and serving certificate, the tree's shipped Pod Security policies (policies/pod-security/) and
namespace ``bench-restricted`` labelled enforce=restricted. A preflight proves the policies are
live (the review is allowed, a privileged copy is denied). Then, per level, the Go load
generator (bench/loadgen/, a separate process) POSTs the AdmissionReview of the 4-container Pod
over that many TLS keep-alive connections: a warm-up, then a fixed measuring window on the same
connections. Per level: requests/s, p50/p99/p99.9 latency (exact, from every recorded sample),
errors (transport errors, client timeouts, non-200 and failed-closed answers), the server's CPU
time per decision (the figure least disturbed by other work on the machine) and its resident
memory (the serve process and its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import load_generator
from bench.processes import stop_group
from bench.trees import Tree, current_tree
from bench.workloads import RESTRICTED, admission_review, namespace_label_args, privileged_copy, typical_pod

LEVELS = (1, 8, 64, 256)
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
    max_ms: float
    transport_errors: int  # connect/read/write failures and client timeouts
    non200: int
    denied: int  # by a policy: the review or the policies are wrong
    failed_closed: int  # allowed:false with code 500: a missed deadline or an internal error
    first_bad: str = ""
    server_decisions: int = 0
    server_timeouts: int = 0
    cpu_ms_per_request: float | None = None
    rss_mb: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.transport_errors + self.non200 + self.failed_closed

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps, "errors": self.errors}


class CelgateServer:
    """``celgate serve`` of one tree in its own process group; stderr to a log file scanned afterwards."""

    def __init__(self, tree: Tree, workdir: Path, workers: int = 2, log_level: str = "info",
                 kubeconfig: str | None = None, extra_args: list[str] | None = None) -> None:
        from webhook.certs import generate_bundle, write_bundle  # the current tree's: it only makes files

        workdir.mkdir(parents=True, exist_ok=True)
        bundle = generate_bundle(dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        certs = write_bundle(bundle, workdir / "tls")
        self.tree = tree
        self.ca = str(certs.ca_cert)
        self.ca_bundle = bundle.ca_bundle
        self.log_path = workdir / "serve.log"
        self.command = [
            sys.executable, "-m", "webhook.cli", "serve", "--host", "127.0.0.1", "--port", "0",
            "--workers", str(workers), "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
            "--policies", str(tree.policies), "--log-level", log_level,
            # With a cluster the namespaces and their labels are the cluster's.
            *(["--kubeconfig", kubeconfig] if kubeconfig else namespace_label_args()),
            *(extra_args or []),
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 90.0) -> "CelgateServer":
        log = self.log_path.open("wb")
        # cwd is the tree: ``-m`` puts the working directory first on sys.path.
        self.process = subprocess.Popen(self.command, cwd=self.tree.path, env=self.tree.env(),
                                        stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _SERVING.search(self.log_path.read_text(errors="replace"))
            if match:
                self.url = f"https://127.0.0.1:{match.group(1)}"
                break
            if self.process.poll() is not None:
                raise BenchError(f"celgate serve ({self.tree.label}) exited with {self.process.returncode}:\n"
                                 f"{self.log_tail()}")
            time.sleep(0.05)
        else:
            self.stop()
            raise BenchError(f"celgate serve did not announce its port in {timeout:g}s:\n{self.log_tail()}")
        with self.client() as client:
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise BenchError(f"celgate serve never became ready:\n{self.log_tail()}")

    def __enter__(self) -> "CelgateServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ca, timeout=30)

    def pids(self) -> list[int]:
        """The serve process and its worker processes."""
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.process.pid] + [int(pid) for pid in children]

    def rss_mb(self) -> float:
        total_kb = 0
        for pid in self.pids():
            try:
                match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
            except OSError:
                continue
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
        return stop_group(self.process, timeout=30)


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
    """Prove the policies are live before measuring: the review is allowed, a privileged copy is not."""
    with server.client() as client:
        answer = client.post("/validate", json=review)
        if answer.status_code != 200 or answer.json()["response"]["allowed"] is not True:
            raise BenchError(f"the benchmark review is not allowed by {server.tree.label} (fix the fixture): "
                             f"HTTP {answer.status_code} {answer.text[:800]}")
        denied = client.post("/validate", json=privileged_copy(review)).json()["response"]
        if denied["allowed"] is not False:
            raise BenchError(f"a privileged copy of the review was allowed by {server.tree.label}: the restricted "
                             f"policies are not enforced in namespace {RESTRICTED}, so the figures would measure nothing")
        return denied.get("status", {}).get("message", "")


def drive(loadgen: Path, server: CelgateServer, body: Path, connections: int, seconds: float,
          warmup: float) -> LevelResult:
    """Run the Go load generator and read its ``CELGATE_RESULT`` line."""
    command = [str(loadgen), "-url", f"{server.url}/validate", "-ca", server.ca, "-body", str(body),
               "-c", str(connections), "-d", f"{seconds}s", "-warmup", f"{warmup}s", "-timeout", "30s"]
    # One OS thread for Go code: the client must not take the server's cores (2 on these machines).
    env = {**os.environ, "GOMAXPROCS": os.environ.get("CELGATE_LOADGEN_GOMAXPROCS", "1")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + warmup + 120, env=env)
    line = next((line for line in done.stdout.splitlines() if line.startswith("CELGATE_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"load generator failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    data = json.loads(line.removeprefix("CELGATE_RESULT "))
    return LevelResult(
        connections=connections, seconds=data["duration_us"] / 1e6, requests=data["requests"],
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, p999_ms=data["p999_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        transport_errors=data["connect_errors"] + data["read_errors"] + data["timeouts"],
        non200=data["non200"], denied=data["denied"], failed_closed=data["failed_closed"],
        first_bad=data["first_bad"],
    )


def wait_until_idle(server: CelgateServer, client: httpx.Client, limit: float = 120.0) -> ServerTotals:
    """Let the server finish requests a stopped client abandoned, so they do not leak into the next level.

    Idle: no new decision and under 5% of a core used for half a second.
    """
    deadline = time.monotonic() + limit
    last, last_cpu = server_totals(client), server.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current, cpu = server_totals(client), server.cpu_seconds()
        if current.decisions == last.decisions and cpu - last_cpu < 0.025:
            return current
        last, last_cpu = current, cpu
    raise BenchError(f"celgate serve was still answering abandoned requests {limit:g}s after the client stopped")


def measure_level(server: CelgateServer, loadgen: Path, body: Path, connections: int, seconds: float,
                  warmup: float) -> LevelResult:
    """One level; CPU per decision is over warm-up and window together, divided by the server's own count."""
    with server.client() as client:
        before = wait_until_idle(server, client)
        cpu_before = server.cpu_seconds()
        result = drive(loadgen, server, body, connections, seconds, warmup)
        after = wait_until_idle(server, client)
        cpu_after = server.cpu_seconds()
    result.server_decisions = after.decisions - before.decisions
    result.server_timeouts = after.timeouts - before.timeouts
    if result.server_decisions:
        result.cpu_ms_per_request = (cpu_after - cpu_before) / result.server_decisions * 1000
    result.rss_mb = server.rss_mb()
    return result


def server_exit_clean(code: int | None, problems: list[str]) -> bool:
    # With one worker uvicorn re-raises the SIGTERM it handled after a graceful shutdown.
    return code in (0, -signal.SIGTERM) and not any(
        "Traceback" in line or '"level":"error"' in line or "restarting" in line for line in problems)


def run_trees(trees: list[Tree], levels: list[int], seconds: float, warmup: float, workers: int = 2,
              log_level: str = "info", kubeconfig: str | None = None, review: dict[str, Any] | None = None,
              serve_args: list[str] | None = None, progress: Any = None) -> dict[str, dict[str, Any]]:
    """Every level against one server per tree, the trees alternating level by level (the idle
    server waits), so drift in the machine's load hits every tree alike; data per tree label."""
    loadgen = load_generator.build()
    review = review or admission_review(typical_pod())
    with tempfile.TemporaryDirectory(prefix="celgate-bench-webhook-") as scratch:
        workdir = Path(scratch)
        body = workdir / "review.json"
        body.write_text(json.dumps(review, separators=(",", ":")))
        servers = {tree.label: CelgateServer(tree, workdir / tree.label, workers, log_level, kubeconfig, serve_args)
                   for tree in trees}
        results: dict[str, list[LevelResult]] = {tree.label: [] for tree in trees}
        idle: dict[str, float] = {}
        denials: dict[str, str] = {}
        exits: dict[str, tuple[int | None, list[str]]] = {}
        try:
            for label, server in servers.items():
                server.start()
                idle[label] = server.rss_mb()
                denials[label] = preflight(server, review)
            for connections in levels:
                for label, server in servers.items():
                    result = measure_level(server, loadgen, body, connections, seconds, warmup)
                    results[label].append(result)
                    if progress:
                        progress(server.tree, result)
                    if result.denied:
                        raise BenchError(f"{result.denied} answer(s) from {label} were denied at {connections} "
                                         f"connections; the review or the server is wrong. First: {result.first_bad}")
                    if not server.alive():
                        raise BenchError(f"celgate serve ({label}) died during the run:\n{server.log_tail()}")
        finally:
            for label, server in servers.items():
                exits[label] = (server.stop(), server.log_problems())
    return {label: {"levels": [r.to_json() for r in results[label]], "rss_idle_mb": idle.get(label),
                    "body_bytes": body_size(review), "preflight_denial": denials.get(label, "")[:200],
                    "server_exit": exits[label][0], "server_clean": server_exit_clean(*exits[label]),
                    "log_problems": exits[label][1][:20], "workers": workers, "log_level": log_level}
            for label in servers}


def body_size(review: dict[str, Any]) -> int:
    return len(json.dumps(review, separators=(",", ":")))


_COLUMNS = ("conns", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "requests", "errors", "non200", "closed",
            "denied", "server n", "srv t/o", "CPU ms/req", "RSS MB")


def _row(cells: list[str]) -> str:
    return " ".join(cell.rjust(max(len(name), 8)) for cell, name in zip(cells, _COLUMNS))


def print_level(tree: Tree, result: LevelResult) -> None:
    cpu = "n/a" if result.cpu_ms_per_request is None else f"{result.cpu_ms_per_request:.2f}"
    print(_row([str(result.connections), f"{result.rps:.1f}", f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}",
                f"{result.p999_ms:.2f}", str(result.requests), str(result.transport_errors), str(result.non200),
                str(result.failed_closed), str(result.denied), str(result.server_decisions),
                str(result.server_timeouts), cpu, f"{result.rss_mb:.1f}"]), flush=True)
    if result.errors and result.first_bad:
        print(f"      ^ first error: {result.first_bad[:200]}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="celgate serve worker processes (default 2)")
    parser.add_argument("--duration", type=float, default=8, help="measured seconds per level (default 8)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each level (default 2)")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="server log level (default info: one decision line per request, as deployed)")
    parser.add_argument("--kubeconfig", help="give celgate serve this cluster (namespace bench-restricted must exist there)")
    parser.add_argument("--review", type=Path, help="another AdmissionReview to send (default: the 4-container Pod)")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for celgate serve (repeatable; --serve-arg=--no-policy-reports)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.workers < 1 or any(level < 1 for level in args.levels):
        parser.error("--duration and --workers must be positive, --warmup at least 0, levels at least 1")
    review = json.loads(args.review.read_text()) if args.review else None
    tree = current_tree()
    print(f"celgate serve ({tree.revision[:12]}), {args.workers} worker(s), log level {args.log_level}; "
          f"Go load generator; warm-up {args.warmup:g}s then {args.duration:g}s per level; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    print(_row(list(_COLUMNS)), flush=True)
    try:
        data = run_trees([tree], args.levels, args.duration, args.warmup, args.workers, args.log_level,
                         args.kubeconfig, review, args.serve_arg, progress=print_level)[tree.label]
    except (BenchError, load_generator.LoadGeneratorError) as exc:
        print(f"\nwebhook_load: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"server exit after SIGTERM: {data['server_exit']} ({'clean' if data['server_clean'] else 'NOT CLEAN'}); "
          f"log lines above info: {len(data['log_problems'])}")
    for line in data["log_problems"]:
        print(f"  {line[:300]}")
    bad = any(level["errors"] for level in data["levels"]) or not data["server_clean"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
