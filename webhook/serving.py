"""Running the webhook: sockets, worker processes, TLS, background reloads, shutdown.

The parent binds the listening socket(s) once and forks ``workers`` processes that share them,
so both cores answer requests (evaluation is CPU-bound Python). Each worker serves the same
app over the same TLS context, polls policy and certificate files, and shuts down gracefully
on SIGTERM: uvicorn stops accepting, finishes in-flight requests, then exits. The parent closes
its copy of the listening socket first, so once every worker has closed its own, new connections
are refused at once instead of waiting in a backlog nobody accepts from.

``max_in_flight`` is split evenly between the workers (each sheds past its share, see
webhook/server.py); the default is ``DEFAULT_IN_FLIGHT_PER_WORKER`` per worker: at the ≈1 ms a
request for the shipped Pod Security policies costs, a full share waits ≈0.3 s, far inside the
8 s evaluation deadline. A shed request costs its caller the Retry-After second, so shedding
starts where queueing would cost more than that (32 a worker shed 64 steady connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import random
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import uvicorn

from webhook.policy.cluster_data import OfflineClusterData

log = logging.getLogger("celgate.serve")

DEFAULT_IN_FLIGHT_PER_WORKER = 256


def default_max_in_flight(workers: int) -> int:
    return DEFAULT_IN_FLIGHT_PER_WORKER * max(1, workers)


def worker_share(max_in_flight: int | None, workers: int) -> int | None:
    """Each worker's part of the server-wide limit (rounded up, so the sum is never below it)."""
    if max_in_flight is None or max_in_flight <= 0:
        return None
    return -(-max_in_flight // max(1, workers))


@dataclass
class ServeOptions:
    host: str
    port: int
    policies: list[Path]
    tls_cert: Path
    tls_key: Path
    client_ca: Path | None = None
    workers: int = 1
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    kubeconfig: str | None = None
    in_cluster: bool = False
    # Also enforce the cluster's admissionregistration.x-k8s.io policies (webhook/cluster_policies.py).
    cluster_policies: bool = False
    static_namespaces: list[dict[str, Any]] = field(default_factory=list)
    static_params: list[dict[str, Any]] = field(default_factory=list)
    reload_interval: float = 2.0
    evaluation_timeout: float = 8.0
    max_body_bytes: int = 3 * 1024 * 1024
    body_timeout: float = 5.0
    graceful_timeout: float = 25.0
    # Requests in flight across all workers before new ones get a 429; 0 or None: no limit.
    max_in_flight: int | None = None
    # A worker exits (and is replaced) after about this many requests; 0: never.
    max_requests_per_worker: int = 0
    log_level: str = "info"
    decision_log_file: Path | None = None
    decision_log_max_bytes: int = 100 * 1024 * 1024
    decision_log_backups: int = 5
    log_allowed_sample_rate: float = 1.0
    # Admission-time PolicyReports (needs a cluster): on by default, --no-policy-reports.
    policy_reports: bool = True
    policy_report_interval: float = 10.0
    policy_report_max_results: int = 1000
    on_ready: Callable[[int], None] | None = None
    # Certificates, Lease and policy status (webhook/cluster_controller.py): one per replica.
    controller: Any = None
    # The set the parent loaded to fail fast; forked workers inherit it instead of compiling
    # every policy again (loading the Pod Security set takes seconds).
    store: Any = None


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it a keep-alive response written as headers + body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class _FollowerServer(uvicorn.Server):
    """A second server in the worker's event loop (the health/metrics port): signals belong to
    the main server, which this one follows when it shuts down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _build_cluster_data(options: ServeOptions, param_kinds: Any) -> tuple[Any, Callable[[], bool], Any]:
    """Cluster data, its readiness, and the authorizer for ``authorizer`` checks (None without a
    cluster: every check then has no opinion, as an authorizer chain that knows nobody)."""
    if options.kubeconfig or options.in_cluster:
        from webhook.cluster import WatchedClusterData, load_api_client
        from webhook.cluster_authorizer import SubjectAccessReviewAuthorizer

        api_client = load_api_client(options.kubeconfig)
        watched = WatchedClusterData(api_client, param_kinds)
        return watched, watched.synced, SubjectAccessReviewAuthorizer(api_client)
    static = OfflineClusterData(namespaces=options.static_namespaces, params=options.static_params)
    return static, lambda: True, None


def _reload_loop(stop: threading.Event, interval: float, store: Any, tls: Any, cluster: Any,
                 ready: Callable[[], bool] = lambda: True) -> None:
    from webhook import metrics

    while not stop.wait(interval):
        metrics.CLUSTER_CACHE_SYNCED.set(1 if ready() else 0)
        try:
            result = store.reload_if_changed()
            if result != "unchanged":
                metrics.POLICY_RELOADS.labels("success" if result == "reloaded" else "failure").inc()
                metrics.POLICY_SET_VALID.set(1 if result == "reloaded" else 0)
                metrics.POLICY_SET_GENERATION.set(store.status.generation)
                metrics.POLICIES_LOADED.set(len(store.current.names()))
                if hasattr(cluster, "ensure_param_kinds"):
                    cluster.ensure_param_kinds(store.current.param_kinds())
            if tls.reload_if_changed():
                metrics.TLS_RELOADS.inc()
                metrics.TLS_NOT_AFTER.set(tls.not_after())
        except Exception:  # noqa: BLE001 - the reload loop must outlive any single failure
            log.exception("background reload failed")


def run_worker(options: ServeOptions, sock: socket.socket, health_sock: socket.socket | None) -> None:
    # A worker forked after the supervisor set its handlers (a replacement) would inherit them;
    # uvicorn hands a signal it caught back to the previous handler as it stops.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    from webhook import metrics
    from webhook.decision_log import configure_logging
    from webhook.policy_store import PolicyStore
    from webhook.server import ServerState, create_app, health_app
    from webhook.tls import ServingTLS

    from webhook.decision_log import set_allowed_sample_rate

    configure_logging(options.log_level, decision_file=options.decision_log_file,
                      max_bytes=options.decision_log_max_bytes, backups=options.decision_log_backups)
    set_allowed_sample_rate(options.log_allowed_sample_rate)
    store = options.store if options.store is not None else PolicyStore(options.policies)
    tls = ServingTLS(options.tls_cert, options.tls_key, options.client_ca)
    cluster, ready, authorizer = _build_cluster_data(options, store.current.param_kinds())
    if options.cluster_policies and hasattr(cluster, "watch"):
        from webhook.cluster_policies import watch_cluster_policies

        store = watch_cluster_policies(cluster, store)
        cluster_ready = ready
        ready = lambda: cluster_ready() and store.ready()  # noqa: E731
    metrics.POLICY_SET_VALID.set(1)
    metrics.POLICY_SET_GENERATION.set(store.status.generation)
    metrics.POLICIES_LOADED.set(len(store.current.names()))
    metrics.TLS_NOT_AFTER.set(tls.not_after())
    metrics.CLUSTER_CACHE_SYNCED.set(1 if ready() else 0)
    reports = _policy_report_recorder(options, cluster)
    state = ServerState(
        store=store, cluster=cluster, ready=ready, authorizer=authorizer,
        max_body_bytes=options.max_body_bytes, body_timeout=options.body_timeout,
        evaluation_timeout=options.evaluation_timeout, reports=reports,
        max_in_flight=worker_share(options.max_in_flight, options.workers),
    )
    metrics.MAX_IN_FLIGHT.set(state.max_in_flight or 0)
    stop = threading.Event()
    threading.Thread(
        target=_reload_loop, args=(stop, options.reload_interval, store, tls, cluster, ready),
        name="reloader", daemon=True,
    ).start()

    _await_cluster(ready, CLUSTER_SYNC_WAIT_SECONDS)
    config = uvicorn.Config(
        create_app(state), log_config=None, lifespan="off", access_log=False,
        timeout_graceful_shutdown=options.graceful_timeout, timeout_keep_alive=30,
        # workers of one generation are replaced at different times, never together
        limit_max_requests=_jittered(options.max_requests_per_worker),
        # uvicorn's own backstop (connections + tasks, a bare 503): kept above our 429 share.
        limit_concurrency=max(1000, 4 * (state.max_in_flight or 0)),
    )
    config.load()
    config.ssl = tls.context  # our context, so certificate rotation reaches new handshakes
    server = uvicorn.Server(config)

    async def main() -> None:
        tasks = [asyncio.ensure_future(server.serve(sockets=[sock]))]
        if health_sock is not None:
            health_config = uvicorn.Config(health_app(state), log_config=None, lifespan="off", access_log=False)
            health = _FollowerServer(health_config)
            tasks.append(asyncio.ensure_future(health.serve(sockets=[health_sock])))

            async def follow() -> None:
                while not server.should_exit:
                    await asyncio.sleep(0.1)
                health.should_exit = True

            tasks.append(asyncio.ensure_future(follow()))
        await asyncio.gather(*tasks)

    try:
        asyncio.run(main())
    finally:
        stop.set()
        if reports is not None:
            reports.stop()  # flush what was recorded before the worker exits
        if hasattr(cluster, "stop"):
            cluster.stop()
    limit = config.limit_max_requests
    if limit is not None and server.server_state.total_requests >= limit:
        raise SystemExit(RETIRED_EXIT_CODE)  # the supervisor starts a fresh worker


# The exit status of a worker that served its --max-requests-per-worker: replaced, not a crash.
RETIRED_EXIT_CODE = 75


def _jittered(requests: int) -> int | None:
    if requests <= 0:
        return None
    return requests + random.randrange(max(1, requests // 10))


# A worker does not accept requests before its namespace and param caches are filled (or this
# long has passed): a fresh worker, replaced or restarted, would otherwise decide on an empty cluster.
CLUSTER_SYNC_WAIT_SECONDS = 10.0


def _await_cluster(ready: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() >= deadline:
            log.warning("cluster caches not synced after %gs; serving anyway (decisions needing them fail closed)", seconds)
            return
        time.sleep(0.05)


def _policy_report_recorder(options: ServeOptions, cluster: Any) -> Any:
    if not options.policy_reports or not (options.kubeconfig or options.in_cluster):
        return None
    from webhook.cluster import load_api_client
    from webhook.kube_rest import KubeREST
    from webhook.policy_report_writer import PolicyReportRecorder

    return PolicyReportRecorder(KubeREST(load_api_client(options.kubeconfig)), interval=options.policy_report_interval,
                                max_results=options.policy_report_max_results).start()


def _controller_loop(options: ServeOptions, stop: threading.Event) -> None:
    from webhook.cluster import load_api_client
    from webhook.cluster_controller import run_controller
    from webhook.policy_store import PolicyStore

    files = options.store if options.store is not None else PolicyStore(options.policies)
    run_controller(load_api_client(options.kubeconfig), options.controller, files, stop)


def run_controller_process(options: ServeOptions) -> None:
    from webhook.decision_log import configure_logging

    configure_logging(options.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _controller_loop(options, stop)


def serve(options: ServeOptions) -> int:
    """Bind, fork workers (and the controller), supervise them until SIGTERM/SIGINT."""
    sock = bind_socket(options.host, options.port)
    health_sock = bind_socket(options.metrics_host, options.metrics_port) if options.metrics_port is not None else None
    port = sock.getsockname()[1]
    if options.on_ready is not None:
        options.on_ready(port)
    if options.workers <= 1 and options.max_requests_per_worker <= 0:
        stop = threading.Event()
        if options.controller is not None:
            threading.Thread(target=_controller_loop, args=(options, stop), name="controller", daemon=True).start()
        try:
            run_worker(options, sock, health_sock)
        finally:
            stop.set()
        return 0

    context = multiprocessing.get_context("fork")
    stopping = False

    def spawn_worker() -> Any:
        process = context.Process(target=run_worker, args=(options, sock, health_sock), daemon=False)
        process.start()
        return process

    def spawn_controller() -> Any:
        process = context.Process(target=run_controller_process, args=(options,), daemon=False, name="controller")
        process.start()
        return process

    spawners = [spawn_worker] * options.workers + ([spawn_controller] if options.controller is not None else [])
    workers = [spawn() for spawn in spawners]

    def handle(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for listening in (sock, health_sock):
            if listening is not None:
                listening.close()
        for process in workers:
            if process.is_alive() and process.pid:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    restarts: list[float] = []
    while True:
        for index, process in enumerate(workers):
            process.join(timeout=0.2)
            if process.is_alive() or stopping:
                continue
            if process.exitcode == RETIRED_EXIT_CODE:
                # served its --max-requests-per-worker: replaced, not a crash
                log.warning("worker %d retired after its requests; starting a fresh one", process.pid)
                _forget_metrics_of(process.pid)
                workers[index] = spawners[index]()
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > 5:
                log.error("workers keep exiting (last exit code %s); giving up", process.exitcode)
                handle(signal.SIGTERM, None)
                break
            log.warning("worker %d exited with code %s; restarting", process.pid, process.exitcode)
            _forget_metrics_of(process.pid)
            workers[index] = spawners[index]()
        if stopping and not any(p.is_alive() for p in workers):
            return 0


def _forget_metrics_of(pid: int | None) -> None:
    """A dead worker's live gauges (in flight, its in-flight share) must not count any more."""
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def prepare_multiprocess_metrics() -> Path:
    """Point prometheus_client at a fresh shared directory before any metric is created."""
    directory = Path(tempfile.mkdtemp(prefix="celgate-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory
