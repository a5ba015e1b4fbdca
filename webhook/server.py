"""The webhook's HTTP application: AdmissionReview in, decision out.

Everything a caller can get wrong is answered with a 4xx and a message (never a traceback,
never an allow): wrong method or content type, a body over the limit or too slow to arrive,
JSON that is not an AdmissionReview. Evaluation runs in a worker thread under a deadline kept
below the webhook's ``timeoutSeconds``; a miss fails closed, as failurePolicy Fail would.

Overload is shed, not queued: past ``max_in_flight`` requests in this worker a new one is answered
429 Too Many Requests with ``Retry-After: 1`` before its body is read, in well under a millisecond
of event-loop time. kube-apiserver's REST client retries a 429 (or 5xx) that carries Retry-After
after that many seconds, up to 10 times within the webhook's timeoutSeconds, and then applies the
failurePolicy (client-go rest/with_retry.go, checkWait); see docs/failure-modes.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from webhook import metrics
from webhook.admission.review import ReviewError, parse_review, review_response
from webhook.decision_log import log_decision
from webhook.limits import MAX_REVIEW_BODY_BYTES
from webhook.policy.cluster_data import ClusterData
from webhook.policy.decision import AdmissionDecision, AdmissionStatus
from webhook.policy.dispatcher import decide
from webhook.policy.model import ParamRef
from webhook.policy_store import PolicyStore

log = logging.getLogger("celgate.server")

# kube-apiserver's own limit on a request body; an AdmissionReview carries an object plus
# oldObject, so it can be larger than one object but not more than this by much.
DEFAULT_MAX_BODY_BYTES = MAX_REVIEW_BODY_BYTES
DEFAULT_BODY_TIMEOUT_SECONDS = 5.0
# The ValidatingWebhookConfiguration allows timeoutSeconds up to 30 and defaults to 10.
DEFAULT_EVALUATION_TIMEOUT_SECONDS = 8.0
# Seconds a shed caller is asked to wait; client-go reads whole seconds only (retryAfterSeconds).
RETRY_AFTER_SECONDS = 1


@dataclass
class ServerState:
    store: PolicyStore
    cluster: ClusterData
    ready: Callable[[], bool] = lambda: True
    authorizer: Any = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS
    evaluation_timeout: float = DEFAULT_EVALUATION_TIMEOUT_SECONDS
    # This worker's share of --max-in-flight: requests past it are shed with a 429; None: no limit.
    max_in_flight: int | None = None
    extra_routes: list[Route] = field(default_factory=list)
    # webhook/policy_report_writer.PolicyReportRecorder, or None (--no-policy-reports, no cluster).
    reports: Any = None
    # Evaluation is CPU-bound Python: one thread per worker process. Several would only contend
    # for the GIL and stretch every request's latency; queued requests still meet the deadline.
    evaluator: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaluate")
    )


def _status(code: int, reason: str, message: str) -> JSONResponse:
    """A metav1.Status body, the error shape Kubernetes clients know how to print."""
    return JSONResponse(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code},
        status_code=code,
    )


class _BodyError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise _BodyError(400, "BadRequest", f"invalid Content-Length header {declared!r}") from None
        if size > limit:
            raise _BodyError(413, "RequestEntityTooLarge",
                             f"request body of {size} bytes exceeds the limit of {limit} bytes (--max-body-bytes)")
    chunks: list[bytes] = []
    received = 0
    deadline = time.monotonic() + timeout

    async def collect() -> None:
        nonlocal received
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _BodyError(413, "RequestEntityTooLarge",
                                 f"request body exceeds the limit of {limit} bytes (--max-body-bytes)")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), timeout=max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        raise _BodyError(408, "Timeout", f"request body not received within {timeout:g}s") from None
    except ClientDisconnect:
        raise _BodyError(400, "BadRequest", "client disconnected before the body was complete") from None
    return b"".join(chunks)


def _failed_closed(message: str) -> AdmissionDecision:
    return AdmissionDecision(
        allowed=False, status=AdmissionStatus(code=500, reason="InternalError", message=message)
    )


def _param_ref_json(ref: ParamRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"namespace": ref.namespace, "name": ref.name, "selector": ref.selector is not None,
            "parameterNotFoundAction": ref.parameter_not_found_action}


def _shed(limit: int) -> JSONResponse:
    response = _status(429, "TooManyRequests",
                       f"celgate: {limit} requests already in flight in this worker; retry in {RETRY_AFTER_SECONDS}s")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def create_app(state: ServerState) -> Starlette:
    # One event loop per worker: a plain counter is exact, no lock needed.
    admitted = 0

    async def validate(request: Request) -> Response:
        nonlocal admitted
        if state.max_in_flight is not None and admitted >= state.max_in_flight:
            metrics.SHED_REQUESTS.inc()
            return _shed(state.max_in_flight)
        admitted += 1
        try:
            return await _validate(request)
        finally:
            admitted -= 1

    async def _validate(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            metrics.BAD_REQUESTS.labels("content_type").inc()
            return _status(415, "UnsupportedMediaType",
                           f"unsupported Content-Type {content_type!r}: send application/json")
        try:
            body = await _read_body(request, state.max_body_bytes, state.body_timeout)
            parsed = parse_review(body)
        except _BodyError as exc:
            metrics.BAD_REQUESTS.labels(exc.reason).inc()
            return _status(exc.code, exc.reason, exc.message)
        except ReviewError as exc:
            metrics.BAD_REQUESTS.labels("malformed").inc()
            return _status(exc.status, "BadRequest", exc.message)

        attributes = parsed.attributes
        started = time.perf_counter()
        policy_set = state.store.current
        metrics.IN_FLIGHT.inc()
        try:
            decision = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(
                    state.evaluator, decide, policy_set, attributes, state.cluster, state.authorizer
                ),
                timeout=state.evaluation_timeout,
            )
        except asyncio.TimeoutError:
            metrics.EVALUATION_TIMEOUTS.inc()
            decision = _failed_closed(
                f"celgate: policy evaluation did not finish within {state.evaluation_timeout:g}s; "
                "the request is denied (fail closed)"
            )
        except Exception as exc:  # noqa: BLE001 - any bug must fail closed, with a message
            log.exception("evaluation failed for request %s", parsed.uid)
            decision = _failed_closed(f"celgate: internal error while evaluating policies: {exc}")
        finally:
            metrics.IN_FLIGHT.dec()
        elapsed = time.perf_counter() - started
        if decision.elapsed_seconds == 0.0:  # failed closed: record the time it really took
            decision = dataclasses.replace(decision, elapsed_seconds=elapsed)
        resource = attributes.resource.resource
        metrics.record_decision(attributes.operation, resource, decision)
        log_decision(attributes, decision, elapsed, generation=state.store.status.generation)
        if state.reports is not None:
            state.reports.record(attributes, decision)  # enqueues only; written in the background
        return JSONResponse(review_response(parsed.uid, decision))

    async def healthz(request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    async def readyz(request: Request) -> Response:
        if not state.ready():
            return Response("not ready: cluster data not synced\n", status_code=503, media_type="text/plain")
        return Response("ok\n", media_type="text/plain")

    async def metrics_page(request: Request) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    async def policies(request: Request) -> Response:
        policy_set = state.store.current
        status = state.store.status
        return JSONResponse({
            "generation": status.generation,
            "loadedAt": status.loaded_at,
            "lastReloadAttemptAt": status.last_attempt_at,
            "lastReloadError": status.last_error,
            "policies": policy_set.names(),
            "bindings": sorted(policy_set.bindings),
            # what `celgate verify` lists: each binding in force with its actions and params
            "enforcement": [
                {"policy": name, "binding": binding.name, "validationActions": list(binding.validation_actions),
                 "paramRef": _param_ref_json(binding.param_ref)}
                for name in policy_set.names() for binding in policy_set.bindings_for(name)
            ],
        })

    routes = [
        Route("/validate", validate, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        Route("/policies", policies, methods=["GET"]),
        *state.extra_routes,
    ]
    return Starlette(routes=routes)


def health_app(state: ServerState) -> Starlette:
    """The optional plain-HTTP listener: health, readiness and metrics only, never /validate."""
    full = create_app(state)
    allowed = {"/healthz", "/readyz", "/metrics"}
    return Starlette(routes=[r for r in full.routes if getattr(r, "path", "") in allowed])
