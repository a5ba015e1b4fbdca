"""A steady-rate soak of a real ``celgate serve`` over TLS on loopback (not a test; run it).

    python bench/soak.py [--minutes 30] [--rate 50] [--window 60] [--workers 2] [--json soak.json]
                         [--check] [--max-pss-growth-mb 40] [--max-fd-growth 8]

Starts ``celgate serve`` as its own process (a fresh CA and serving certificate, the shipped
Pod Security policies, namespace ``bench-restricted`` labelled enforce=restricted) and sends it
AdmissionReviews at a fixed rate, open loop: request *i* is due at ``start + i / rate`` whether
or not earlier ones have been answered, and its latency is counted from when it was due, so a
stalled server shows as latency instead of as fewer requests. Every other request is the
compliant 3-container Pod of bench/fixtures/webhook/ (must be allowed), the others the same Pod
made privileged (must be denied); any other answer is an error. The run stops by itself after
``--minutes``.

Each ``--window`` seconds (a minute by default) it records the requests due, errors (transport,
timeout, non-200, wrong verdict), p50/p99/max latency, and the server's resident memory and open
file descriptors summed over its process tree (the parent and its workers, from /proc), prints a
table row and finally writes everything as JSON. With ``--check`` the exit code is 1 if there was
any error, or PSS grew by more than ``--max-pss-growth-mb`` or FDs by more than
``--max-fd-growth`` between the end of the first window and the end of the run (the first window
is warm-up: caches fill, workers touch their pages).

The rate must stay well below capacity (bench/webhook_load.py measures it: ≈150 req/s with 2
workers on a 2-core host); the default 50 req/s is about a third of that.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
REVIEW_FIXTURE = Path(__file__).resolve().parent / "fixtures/webhook/admission-review-pod-3-containers.json"
NAMESPACE_LABELS = "bench-restricted=pod-security.kubernetes.io/enforce=restricted"
_SERVING = re.compile(r"on https://127\.0\.0\.1:(\d+)/validate")
CLIENT_TIMEOUT_SECONDS = 10.0  # a ValidatingWebhookConfiguration's default timeoutSeconds


class SoakError(Exception):
    """The soak cannot run (the server did not start, a fixture is missing); the message says why."""


@dataclass
class Window:
    index: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: float
    pss_mb: float
    fds: int
    error_kinds: dict[str, int] = field(default_factory=dict)


def reviews() -> tuple[bytes, bytes]:
    """The allowed and the denied AdmissionReview bodies."""
    allowed = json.loads(REVIEW_FIXTURE.read_text())
    denied = copy.deepcopy(allowed)
    denied["request"]["uid"] = "8d3f6b1e-2c4a-4f7e-9b1d-5a6c7e8f9a02"
    denied["request"]["object"]["spec"]["containers"][0].setdefault("securityContext", {})["privileged"] = True
    return json.dumps(allowed).encode(), json.dumps(denied).encode()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a worker's own children included), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def memory_and_fds(pid: int) -> tuple[float, float, int]:
    """Resident MiB, proportional-set MiB and open file descriptors, summed over the process tree.

    The workers are forked from the parent, so their RSS counts the pages they still share with
    it once per process; PSS splits each shared page between its sharers and sums to what the
    tree really holds. Both are reported; growth is judged on PSS."""
    rss_kb, pss_kb, fds = 0, 0, 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss_kb += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss_kb += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{member}/fd"))
        except OSError:
            continue  # exited between the listing and the read
    return rss_kb / 1024, pss_kb / 1024, fds


class Server:
    """``celgate serve`` in its own session on an ephemeral port, with throwaway certificates."""

    def __init__(self, workers: int, directory: Path, extra: list[str]) -> None:
        self.workers, self.directory, self.extra = workers, directory, extra
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.lines: list[str] = []

    def start(self, timeout: float = 60.0) -> "Server":
        sys.path.insert(0, str(ROOT))
        from webhook.certs import generate_bundle, write_bundle

        certs = write_bundle(generate_bundle(ip_addresses=["127.0.0.1"], dns_names=["localhost"]), self.directory)
        self.ca = certs.ca_cert
        command = [sys.executable, "-m", "webhook.cli", "serve", "--port", "0", "--workers", str(self.workers),
                   "--tls-cert", str(certs.cert), "--tls-key", str(certs.key),
                   "--policies", str(ROOT / "policies/pod-security"), "--namespace-labels", NAMESPACE_LABELS,
                   "--log-level", "warning", *self.extra]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stderr is not None
            for line in self.process.stderr:
                self.lines.append(line.rstrip("\n"))
                del self.lines[:-200]
                match = _SERVING.search(line)
                if match and not ready.is_set():
                    self.port = int(match.group(1))
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise SoakError("celgate serve did not start:\n" + "\n".join(self.lines[-20:]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with httpx.Client(verify=self.context(), timeout=5) as client:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SoakError("celgate serve never became ready:\n" + "\n".join(self.lines[-20:]))

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


class ConnectionPool:
    """Keep-alive TLS connections speaking just enough HTTP/1.1 by hand: a general client (httpx)
    spends ≈9 ms of CPU per request, which on a shared 2-core host makes the client, not the
    server, fall behind the schedule. A broken connection is replaced by a new one."""

    def __init__(self, url: str, context: ssl.SSLContext, size: int) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.netloc = parts.hostname, parts.port, parts.netloc
        self.context, self.size = context, size
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(None)  # opened on first use

    def request(self, body: bytes) -> bytes:
        return (f"POST /validate HTTP/1.1\r\nHost: {self.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def post(self, raw: bytes) -> tuple[int, bytes]:
        connection = await self.idle.get()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port, ssl=self.context)
            reader, writer = connection
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                connection = None
            return int(lines[0].split()[1]), body
        except BaseException:
            if connection is not None:
                connection[1].close()
            connection = None
            raise
        finally:
            self.idle.put_nowait(connection)

    async def close(self) -> None:
        while not self.idle.empty():
            connection = self.idle.get_nowait()
            if connection is not None:
                connection[1].close()


async def _one(pool: ConnectionPool, raw: bytes, expect_allowed: bool, due: float,
               latencies: list[float], errors: dict[str, int]) -> None:
    try:
        status, body = await asyncio.wait_for(pool.post(raw), CLIENT_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        errors["timeout"] = errors.get("timeout", 0) + 1
        return
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        kind = f"transport:{type(exc).__name__}"
        errors[kind] = errors.get(kind, 0) + 1
        return
    latencies.append((time.monotonic() - due) * 1000)
    if status != 200:
        errors[f"http:{status}"] = errors.get(f"http:{status}", 0) + 1
    elif json.loads(body)["response"]["allowed"] is not expect_allowed:
        errors["wrong-verdict"] = errors.get("wrong-verdict", 0) + 1


async def _drive(server: Server, rate: float, seconds: float, window: float, connections: int,
                 windows: list[Window]) -> None:
    pool = ConnectionPool(server.url, server.context(), connections)
    allowed, denied = (pool.request(body) for body in reviews())
    start = time.monotonic()
    sent = 0
    index = 0
    try:
        while index * window < seconds:
            window_end = start + min((index + 1) * window, seconds)
            latencies: list[float] = []
            errors: dict[str, int] = {}
            tasks = []
            window_start = time.monotonic()
            while True:
                due = start + sent / rate
                if due >= window_end:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                raw, expect = (allowed, True) if sent % 2 == 0 else (denied, False)
                tasks.append(asyncio.ensure_future(_one(pool, raw, expect, due, latencies, errors)))
                sent += 1
            if tasks:
                await asyncio.gather(*tasks)  # this window's answers (or timeouts) are all in
            latencies.sort()
            rss, pss, fds = memory_and_fds(server.process.pid) if server.process else (0.0, 0.0, 0)
            windows.append(Window(
                index=index, seconds=round(time.monotonic() - window_start, 2), requests=len(tasks),
                errors=sum(errors.values()), p50_ms=round(_percentile(latencies, 0.50), 2),
                p99_ms=round(_percentile(latencies, 0.99), 2), max_ms=round(latencies[-1] if latencies else 0.0, 2),
                rss_mb=round(rss, 1), pss_mb=round(pss, 1), fds=fds, error_kinds=errors,
            ))
            _print_row(windows[-1])
            index += 1
    finally:
        await pool.close()


def _print_header() -> None:
    print(f"{'window':>6} {'secs':>6} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'RSS MiB':>8} {'PSS MiB':>8} {'FDs':>5}", flush=True)


def _print_row(w: Window) -> None:
    kinds = "  " + ", ".join(f"{k}={v}" for k, v in sorted(w.error_kinds.items())) if w.error_kinds else ""
    print(f"{w.index:>6} {w.seconds:>6.1f} {w.requests:>8} {w.errors:>6} {w.p50_ms:>8.1f} {w.p99_ms:>8.1f} "
          f"{w.max_ms:>8.1f} {w.rss_mb:>8.1f} {w.pss_mb:>8.1f} {w.fds:>5}{kinds}", flush=True)


def summarize(windows: list[Window], start: tuple[float, float, int], exit_code: int | None) -> dict[str, Any]:
    warm = windows[0]
    last = windows[-1]
    return {
        "requests": sum(w.requests for w in windows),
        "errors": sum(w.errors for w in windows),
        "p99_ms_by_window": [w.p99_ms for w in windows],
        "p99_ms_worst_window": max(w.p99_ms for w in windows),
        "rss_mb": {"start": round(start[0], 1), "after_warmup": warm.rss_mb, "end": last.rss_mb},
        "pss_mb": {"start": round(start[1], 1), "after_warmup": warm.pss_mb, "end": last.pss_mb},
        "fds": {"start": start[2], "after_warmup": warm.fds, "end": last.fds},
        "pss_growth_mb_after_warmup": round(last.pss_mb - warm.pss_mb, 1),
        "fd_growth_after_warmup": last.fds - warm.fds,
        "latency_ms": {"p50_median_window": sorted(w.p50_ms for w in windows)[len(windows) // 2],
                       "p99_median_window": sorted(w.p99_ms for w in windows)[len(windows) // 2]},
        "server_exit_code": exit_code,
    }


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM as ^C: the server is stopped and what was measured is kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second (default: %(default)s)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per table row (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="celgate serve --workers (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="write the windows and the summary here")
    parser.add_argument("--check", action="store_true", help="exit 1 on any error or on RSS/FD growth over the bounds")
    parser.add_argument("--max-pss-growth-mb", type=float, default=40.0)
    parser.add_argument("--max-fd-growth", type=int, default=8)
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.minutes <= 0 or args.window <= 0:
        parser.error("--rate, --minutes and --window must be positive")

    with tempfile.TemporaryDirectory(prefix="celgate-soak-") as directory:
        server = Server(args.workers, Path(directory), [])
        try:
            server.start()
        except SoakError as exc:
            print(f"soak: {exc}", file=sys.stderr)
            return 1
        try:
            assert server.process is not None
            start = memory_and_fds(server.process.pid)
            print(f"soak: {args.rate:g} req/s for {args.minutes:g} min against {server.url} "
                  f"({args.workers} workers, pid {server.process.pid}); RSS {start[0]:.1f} MiB, "
                  f"PSS {start[1]:.1f} MiB, {start[2]} FDs at start", flush=True)
            _print_header()
            signal.signal(signal.SIGTERM, _interrupt)
            windows: list[Window] = []
            try:
                asyncio.run(_drive(server, args.rate, args.minutes * 60, args.window, args.connections, windows))
            except KeyboardInterrupt:
                print("soak: interrupted; the windows so far follow", file=sys.stderr)
                if not windows:
                    return 1
        finally:
            exit_code = server.stop()
    summary = summarize(windows, start, exit_code)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"arguments": {k: str(v) for k, v in vars(args).items()},
                                         "windows": [asdict(w) for w in windows], "summary": summary}, indent=2))
    if not args.check:
        return 0
    problems = []
    if summary["errors"]:
        problems.append(f"{summary['errors']} errors")
    if summary["pss_growth_mb_after_warmup"] > args.max_pss_growth_mb:
        problems.append(f"PSS grew {summary['pss_growth_mb_after_warmup']} MiB (bound {args.max_pss_growth_mb})")
    if summary["fd_growth_after_warmup"] > args.max_fd_growth:
        problems.append(f"FDs grew by {summary['fd_growth_after_warmup']} (bound {args.max_fd_growth})")
    if exit_code != 0:
        problems.append(f"celgate serve exited with {exit_code}")
    for problem in problems:
        print(f"soak: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
