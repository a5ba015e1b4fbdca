"""Kubernetes authorizer library: ``authorizer.path(...)``, ``.group().resource()...check(verb)``.

Source: k8s.io/apiserver/pkg/cel/library/authz.go (Authz and AuthzSelectors, v1.35).
The decisions come from the caller: an :class:`Authorizer` (see authorization.py). The opaque
CEL values (Authorizer, PathCheck, GroupCheck, ResourceCheck, Decision) carry their state as
canonical JSON; the Authorizer value names its Python authorizer by a key into a per-process
registry, because cel-cpp cannot carry Python objects.
"""

from __future__ import annotations

import collections
import json
import weakref
from typing import Any, Mapping

from cel_expr_python import cel

from webhook.cel.errors import CelFunctionError
from webhook.cel.library import CelLibrary
from webhook.cel.library.apimachinery_validation import name_is_dns_label, name_is_dns_subdomain
from webhook.cel.library.dispatch import UNREACHABLE, overload_family
from webhook.cel.library.authorization import (
    Authorizer,
    AuthzDecision,
    AuthzRequest,
    Decision,
    RequestResource,
    UserInfo,
)
from webhook.cel.types import OpaqueType, opaque_type

T = cel.Type

AUTHORIZER = opaque_type("kubernetes.authorization.Authorizer", lambda _: "kubernetes.authorization.Authorizer")
PATH_CHECK = opaque_type("kubernetes.authorization.PathCheck", lambda _: "kubernetes.authorization.PathCheck")
GROUP_CHECK = opaque_type("kubernetes.authorization.GroupCheck", lambda _: "kubernetes.authorization.GroupCheck")
RESOURCE_CHECK = opaque_type(
    "kubernetes.authorization.ResourceCheck", lambda _: "kubernetes.authorization.ResourceCheck"
)
DECISION = opaque_type("kubernetes.authorization.Decision", lambda _: "kubernetes.authorization.Decision")

# The variables ValidatingAdmissionPolicy declares when an authorizer is available
# (admission/plugin/cel/compile.go): `authorizer` and `authorizer.requestResource`.
AUTHORIZER_VARIABLES: Mapping[str, cel.Type] = {
    "authorizer": AUTHORIZER.cel_type,
    "authorizer.requestResource": RESOURCE_CHECK.cel_type,
}

_AUTHORIZERS: "weakref.WeakValueDictionary[str, Authorizer]" = weakref.WeakValueDictionary()
# The activation holds only the key, so an authorizer built just for one evaluation would be
# collected before it runs; the most recent ones are kept alive here.
_RECENT: "collections.deque[Authorizer]" = collections.deque(maxlen=64)
_STRONG: dict[str, Authorizer] = {}


def register_authorizer(authorizer: Authorizer) -> str:
    """The registry key of ``authorizer`` (registered on first use, kept while it lives)."""
    key = f"{type(authorizer).__name__}@{id(authorizer):x}"
    try:
        _AUTHORIZERS[key] = authorizer
    except TypeError:  # not weak-referenceable (a class with __slots__): keep it for good
        _STRONG[key] = authorizer
    if not any(recent is authorizer for recent in _RECENT):
        _RECENT.append(authorizer)
    return key


def _lookup(key: str) -> Authorizer:
    found = _AUTHORIZERS.get(key) or _STRONG.get(key)
    if found is None:
        raise CelFunctionError(f"authorizer {key} is no longer available to this evaluation")
    return found


def _wrap(kind: OpaqueType, state: Mapping[str, Any]) -> Any:
    return kind.wrap(json.dumps(state, sort_keys=True, separators=(",", ":")))


def _state(message: Any) -> dict[str, Any]:
    return json.loads(OpaqueType.unwrap(message))


def authorizer_value(authorizer: Authorizer, user: UserInfo) -> Any:
    """The CEL value of the ``authorizer`` variable."""
    return _wrap(AUTHORIZER, {"authorizer": register_authorizer(authorizer), "user": user.to_json()})


def request_resource_value(authorizer: Authorizer, user: UserInfo, resource: RequestResource) -> Any:
    """The CEL value of ``authorizer.requestResource`` (authz.go NewResourceAuthorizerVal)."""
    return _wrap(
        RESOURCE_CHECK,
        {
            "authorizer": {"authorizer": register_authorizer(authorizer), "user": user.to_json()},
            "group": resource.group,
            "resource": resource.resource,
            "subresource": resource.subresource,
            "namespace": resource.namespace,
            "name": resource.name,
            "fieldSelector": "",
            "labelSelector": "",
        },
    )


def authorizer_activation(
    authorizer: Authorizer, user: UserInfo, resource: RequestResource | None = None
) -> dict[str, Any]:
    """Activation entries for AUTHORIZER_VARIABLES; the policy layer merges them in."""
    values = {"authorizer": authorizer_value(authorizer, user)}
    if resource is not None:
        values["authorizer.requestResource"] = request_resource_value(authorizer, user, resource)
    return values


def _path(authz: Any, path: str) -> Any:
    if not path.strip():
        raise CelFunctionError("path must not be empty")
    return _wrap(PATH_CHECK, {"authorizer": _state(authz), "path": path})


def _group(authz: Any, group: str) -> Any:
    return _wrap(GROUP_CHECK, {"authorizer": _state(authz), "group": group})


def _service_account(authz: Any, namespace: str, name: str) -> Any:
    if name_is_dns_subdomain(name, False):
        raise CelFunctionError("Invalid service account name")
    if name_is_dns_label(namespace, False):
        raise CelFunctionError("Invalid service account namespace")
    state = _state(authz)
    state["user"] = UserInfo.service_account(namespace, name).to_json()
    return _wrap(AUTHORIZER, state)


def _resource(group_check: Any, resource: str) -> Any:
    if not resource.strip():
        raise CelFunctionError("resource must not be empty")
    state = _state(group_check)
    state.update(resource=resource, subresource="", namespace="", name="", fieldSelector="", labelSelector="")
    return _wrap(RESOURCE_CHECK, state)


def _setter(field: str) -> Any:
    def set_field(resource_check: Any, value: str) -> Any:
        state = _state(resource_check)
        state[field] = value
        return _wrap(RESOURCE_CHECK, state)

    return set_field


def _decide(authz_state: Mapping[str, Any], request: AuthzRequest) -> Any:
    authorizer = _lookup(authz_state["authorizer"])
    try:
        decision = authorizer.authorize(request)
    except Exception as exc:  # noqa: BLE001 - an authorizer failure is a decision with error()
        decision = AuthzDecision(Decision.NO_OPINION, error=f"{type(exc).__name__}: {exc}")
    return _wrap(DECISION, decision.to_json())


def _path_check(path_check: Any, verb: str) -> Any:
    state = _state(path_check)
    user = UserInfo.from_json(state["authorizer"]["user"])
    return _decide(state["authorizer"], AuthzRequest(user=user, verb=verb, path=state["path"]))


def _resource_check(resource_check: Any, verb: str) -> Any:
    state = _state(resource_check)
    request = AuthzRequest(
        user=UserInfo.from_json(state["authorizer"]["user"]),
        verb=verb,
        resource_request=True,
        api_group=state["group"],
        api_version="*",
        resource=state["resource"],
        subresource=state["subresource"],
        namespace=state["namespace"],
        name=state["name"],
        field_selector=state["fieldSelector"],
        label_selector=state["labelSelector"],
    )
    return _decide(state["authorizer"], request)


def _check(target: Any, verb: str) -> Any:
    if target.DESCRIPTOR.full_name == PATH_CHECK.name:
        return _path_check(target, verb)
    return _resource_check(target, verb)


# Both check overloads take a message receiver, which cel-cpp's runtime cannot tell apart.
_CHECK = overload_family(
    "check",
    [
        cel.Overload("pathcheck_check", DECISION.cel_type, [PATH_CHECK.cel_type, T.STRING], is_member=True),
        cel.Overload("resourcecheck_check", DECISION.cel_type, [RESOURCE_CHECK.cel_type, T.STRING], is_member=True),
    ],
    [UNREACHABLE, T.STRING],
    _check,
    is_member=True,
)


def _decision(message: Any) -> AuthzDecision:
    return AuthzDecision.from_json(_state(message))


def _member(overload_id: str, params: list[cel.Type], result: cel.Type, impl: Any) -> cel.Overload:
    return cel.Overload(overload_id, result, params, is_member=True, impl=impl)


_A, _P, _G, _R, _D = (t.cel_type for t in (AUTHORIZER, PATH_CHECK, GROUP_CHECK, RESOURCE_CHECK, DECISION))

LIBRARY = CelLibrary(
    name="kubernetes.authz",
    functions=(
        cel.FunctionDecl("path", [_member("authorizer_path", [_A, T.STRING], _P, _path)]),
        cel.FunctionDecl("group", [_member("authorizer_group", [_A, T.STRING], _G, _group)]),
        cel.FunctionDecl(
            "serviceAccount",
            [_member("authorizer_serviceaccount", [_A, T.STRING, T.STRING], _A, _service_account)],
        ),
        cel.FunctionDecl("resource", [_member("groupcheck_resource", [_G, T.STRING], _R, _resource)]),
        cel.FunctionDecl(
            "subresource", [_member("resourcecheck_subresource", [_R, T.STRING], _R, _setter("subresource"))]
        ),
        cel.FunctionDecl(
            "namespace", [_member("resourcecheck_namespace", [_R, T.STRING], _R, _setter("namespace"))]
        ),
        cel.FunctionDecl("name", [_member("resourcecheck_name", [_R, T.STRING], _R, _setter("name"))]),
        cel.FunctionDecl(
            "errored", [_member("decision_errored", [_D], T.BOOL, lambda d: _decision(d).error is not None)]
        ),
        cel.FunctionDecl(
            "error", [_member("decision_error", [_D], T.STRING, lambda d: _decision(d).error or "")]
        ),
        cel.FunctionDecl(
            "allowed",
            [_member("decision_allowed", [_D], T.BOOL, lambda d: _decision(d).decision is Decision.ALLOW)],
        ),
        cel.FunctionDecl("reason", [_member("decision_reason", [_D], T.STRING, lambda d: _decision(d).reason)]),
        # AuthzSelectors (enabled by the AuthorizeWithSelectors gate, on by default since 1.32).
        cel.FunctionDecl(
            "fieldSelector",
            [_member("authorizer_fieldselector", [_R, T.STRING], _R, _setter("fieldSelector"))],
        ),
        cel.FunctionDecl(
            "labelSelector",
            [_member("authorizer_labelselector", [_R, T.STRING], _R, _setter("labelSelector"))],
        ),
    ),
    declarations=(_CHECK.declaration,),
    implementations=_CHECK.implementations,
)
