"""The ``authorizer`` CEL variable in a live cluster: each check is a SubjectAccessReview.

kube-apiserver answers ``authorizer...check(verb)`` in-process with its own authorizer chain; a
webhook asks the same chain through the SubjectAccessReview API (RBAC: create
subjectaccessreviews), for the user of the admission request. Answers are cached for a few
seconds (as the apiserver's own webhook authorizer caches), so a check repeated by several
policies or requests costs one round trip, and a permission change is seen soon after.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from kubernetes import client as k8s_client

from webhook.cel.library.authorization import AuthzDecision, AuthzRequest, Decision


def _cache_key(request: AuthzRequest) -> tuple[Any, ...]:
    user = request.user
    extra = tuple(sorted((key, tuple(values)) for key, values in user.extra.items()))
    return (user.username, tuple(user.groups), user.uid, extra, request.verb, request.path,
            request.resource_request, request.api_group, request.api_version, request.resource,
            request.subresource, request.namespace, request.name, request.field_selector,
            request.label_selector)


class SubjectAccessReviewAuthorizer:
    def __init__(self, api_client: k8s_client.ApiClient, timeout_seconds: float = 2.0, ttl_seconds: float = 10.0) -> None:
        self._api = k8s_client.AuthorizationV1Api(api_client)
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._cache: dict[tuple[Any, ...], tuple[float, AuthzDecision]] = {}
        self._lock = threading.Lock()

    def authorize(self, request: AuthzRequest) -> AuthzDecision:
        now = time.monotonic()
        key = _cache_key(request)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        decision = self._ask(request)
        if decision.error is None:  # an errored check is asked again next time
            with self._lock:
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[key] = (now, decision)
        return decision

    def _ask(self, request: AuthzRequest) -> AuthzDecision:
        spec: dict[str, Any] = {
            "user": request.user.username,
            "groups": list(request.user.groups),
            "uid": request.user.uid or None,
            "extra": {key: list(values) for key, values in request.user.extra.items()} or None,
        }
        if request.resource_request:
            attributes: dict[str, Any] = {
                "verb": request.verb, "group": request.api_group, "version": request.api_version,
                "resource": request.resource, "subresource": request.subresource,
                "namespace": request.namespace, "name": request.name,
            }
            if request.field_selector:
                attributes["fieldSelector"] = {"rawSelector": request.field_selector}
            if request.label_selector:
                attributes["labelSelector"] = {"rawSelector": request.label_selector}
            spec["resourceAttributes"] = attributes
        else:
            spec["nonResourceAttributes"] = {"path": request.path, "verb": request.verb}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        try:
            review = self._api.create_subject_access_review(body, _request_timeout=self._timeout)
        except k8s_client.ApiException as exc:
            return AuthzDecision(Decision.NO_OPINION, "", f"SubjectAccessReview failed: {exc.status} {exc.reason}")
        except Exception as exc:  # noqa: BLE001 - a network failure is an errored check, not a crash
            return AuthzDecision(Decision.NO_OPINION, "", f"SubjectAccessReview failed: {exc}")
        status = review.status
        reason = status.reason or ""
        if status.allowed:
            return AuthzDecision(Decision.ALLOW, reason)
        if status.denied:
            return AuthzDecision(Decision.DENY, reason)
        return AuthzDecision(Decision.NO_OPINION, reason, status.evaluation_error or None)
