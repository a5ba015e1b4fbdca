"""AdmissionReview v1 in and out.

``parse_review`` turns a request body into :class:`AdmissionAttributes` (or raises
:class:`ReviewError` with the 4xx status the caller deserves); ``review_response`` turns an
:class:`AdmissionDecision` into the AdmissionReview the API server expects back.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from webhook.policy.attributes import (
    AdmissionAttributes,
    GroupVersionKind,
    GroupVersionResource,
    UserInfo,
)
from webhook.documents import json_type_name
from webhook.limits import LimitExceeded, check_json_value, nesting_exceeded
from webhook.policy.decision import AdmissionDecision

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class ReviewError(Exception):
    """The request is not a usable AdmissionReview: the caller's fault, answered with 4xx."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ParsedReview:
    uid: str
    attributes: AdmissionAttributes


def _require_mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReviewError(f"{path}: expected an object, got {json_type_name(value)}", 400)
    return value


def _string(mapping: dict[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = mapping.get(key)
    if value is None:
        if required:
            raise ReviewError(f"{path}.{key}: required field is missing", 400)
        return ""
    if not isinstance(value, str):
        raise ReviewError(f"{path}.{key}: expected a string, got {json_type_name(value)}", 400)
    return value


def _group_version(value: Any, path: str, last: str, *, required: bool) -> tuple[str, str, str] | None:
    """(group, version, <last>) of a GroupVersionKind/Resource field, or None when absent."""
    if value is None:
        if required:
            raise ReviewError(f"{path}: required field is missing", 400)
        return None
    mapping = _require_mapping(value, path)
    return (_string(mapping, "group", path), _string(mapping, "version", path, required=True),
            _string(mapping, last, path, required=True))


def _gvk(value: Any, path: str, *, required: bool) -> GroupVersionKind | None:
    parts = _group_version(value, path, "kind", required=required)
    return GroupVersionKind(*parts) if parts else None


def _gvr(value: Any, path: str, *, required: bool) -> GroupVersionResource | None:
    parts = _group_version(value, path, "resource", required=required)
    return GroupVersionResource(*parts) if parts else None


def _user_info(value: Any) -> UserInfo:
    if value is None:
        return UserInfo()
    mapping = _require_mapping(value, "request.userInfo")
    groups = mapping.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ReviewError("request.userInfo.groups: expected an array of strings", 400)
    extra_raw = mapping.get("extra") or {}
    if not isinstance(extra_raw, dict):
        raise ReviewError("request.userInfo.extra: expected an object", 400)
    extra: dict[str, tuple[str, ...]] = {}
    for key, values in extra_raw.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ReviewError(f"request.userInfo.extra.{key}: expected an array of strings", 400)
        extra[key] = tuple(values)
    return UserInfo(
        username=_string(mapping, "username", "request.userInfo"),
        uid=_string(mapping, "uid", "request.userInfo"),
        groups=tuple(groups),
        extra=extra,
    )


def _object(value: Any, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    return _require_mapping(value, path)


# A number of 19 digits or more may be beyond int64, which orjson turns into a float; the
# standard library keeps such integers exact, as this module always has (values.to_cel then
# makes them the doubles Kubernetes' own decoder would). Found by mapping every digit to "0" and
# everything else to " ": a C-speed pass, where a regular expression costs as much as the decode.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def _decode(body: bytes) -> Any:
    """The JSON in ``body``: UTF-8, no NaN or Infinity (Go's decoder refuses them too), no lone
    surrogates (which the API server, re-encoding in Go, never sends), and within webhook.limits.

    orjson decodes about three times faster than the standard library (docs/limits.md)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth limit exceeded" in exc.msg or "recursion limit" in exc.msg:
            raise ReviewError(nesting_exceeded("request body").message, 400) from None
        raise ReviewError(f"request body is not valid JSON: {exc}", 400) from None
    if _LONG_NUMBER in body.translate(_DIGITS_ONLY):
        try:
            document = json.loads(body)
        except RecursionError:
            raise ReviewError(nesting_exceeded("request body").message, 400) from None
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise ReviewError(f"request body is not valid JSON: {exc}", 400) from None
    try:
        check_json_value(document, "request body", largest_possible=len(body), decoded_json=True,
                         containers=body.count(b"[") + body.count(b"{"))
    except LimitExceeded as exc:
        raise ReviewError(exc.message, 400) from None
    return document


def parse_review(body: bytes) -> ParsedReview:
    """Parse and check an AdmissionReview v1 request body."""
    document = _decode(body)
    review = _require_mapping(document, "body")
    api_version, kind = review.get("apiVersion"), review.get("kind")
    if api_version != API_VERSION or kind != KIND:
        raise ReviewError(
            f"expected apiVersion {API_VERSION!r} and kind {KIND!r}, got apiVersion {api_version!r} "
            f"and kind {kind!r}",
            400,
        )
    if review.get("request") is None:
        raise ReviewError("request: required field is missing", 400)
    request = _require_mapping(review["request"], "request")
    uid = _string(request, "uid", "request", required=True)
    if not uid:
        raise ReviewError("request.uid: must not be empty", 400)
    operation = _string(request, "operation", "request", required=True)
    if operation not in OPERATIONS:
        raise ReviewError(
            f"request.operation: unsupported value {operation!r}: supported values: "
            + ", ".join(f'"{op}"' for op in OPERATIONS),
            400,
        )
    dry_run = request.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise ReviewError("request.dryRun: expected a boolean", 400)
    attributes = AdmissionAttributes(
        uid=uid,
        kind=_gvk(request.get("kind"), "request.kind", required=True),  # type: ignore[arg-type]
        resource=_gvr(request.get("resource"), "request.resource", required=True),  # type: ignore[arg-type]
        operation=operation,  # type: ignore[arg-type]
        name=_string(request, "name", "request"),
        namespace=_string(request, "namespace", "request"),
        sub_resource=_string(request, "subResource", "request"),
        request_kind=_gvk(request.get("requestKind"), "request.requestKind", required=False),
        request_resource=_gvr(request.get("requestResource"), "request.requestResource", required=False),
        request_sub_resource=_string(request, "requestSubResource", "request"),
        user_info=_user_info(request.get("userInfo")),
        object=_object(request.get("object"), "request.object"),
        old_object=_object(request.get("oldObject"), "request.oldObject"),
        options=_object(request.get("options"), "request.options"),
        dry_run=dry_run,
    )
    return ParsedReview(uid=uid, attributes=attributes)


_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def webhook_annotation_key(key: str) -> str:
    """The audit annotation key a webhook can return for one the built-in plugin records.

    kube-apiserver records a webhook's key as ``<webhook name>/<key>`` and drops it unless that
    is a qualified name (admission/audit.go checkKeyFormat): one ``/``, a name part of at most 63
    characters. So ``validation.policy.admission.k8s.io/validation_failure`` is returned as
    ``validation.policy.admission.k8s.io_validation_failure`` and ``<policy>/<key>`` as
    ``<policy>_<key>``; a name too long keeps its start and ends in a digest of the original.
    """
    name = key.replace("/", "_")
    if len(name) <= 63 and _NAME_PART.fullmatch(name):
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    safe = re.sub(r"[^-A-Za-z0-9_.]", "-", name)[:52].strip("-_.") or "annotation"
    return f"{safe}-{digest}"


def review_response(uid: str, decision: AdmissionDecision) -> dict[str, Any]:
    """The AdmissionReview answer for ``decision``."""
    response: dict[str, Any] = {"uid": uid, "allowed": decision.allowed}
    if decision.status is not None:
        status: dict[str, Any] = {
            "metadata": {},
            "status": "Success" if decision.allowed else "Failure",
            "code": decision.status.code,
            "message": decision.status.message,
        }
        if decision.status.reason:
            status["reason"] = decision.status.reason
        response["status"] = status
    if decision.warnings:
        response["warnings"] = list(decision.warnings)
    if decision.audit_annotations:
        response["auditAnnotations"] = {
            webhook_annotation_key(key): value for key, value in decision.audit_annotations.items()
        }
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}
