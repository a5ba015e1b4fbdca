"""Who answers ``authorizer....check(verb)``: the authorizer interface and an offline one.

Mirrors k8s.io/apiserver/pkg/authorization/authorizer: an :class:`AuthzRequest` is its
``AttributesRecord`` (API version is always ``*`` for CEL checks), an :class:`AuthzDecision`
is ``(Decision, reason, error)``. The webhook can plug in a SubjectAccessReview-backed
authorizer; ``celgate test`` uses :class:`RuleAuthorizer`, an allow-list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence


class Decision(enum.Enum):
    DENY = "Deny"
    ALLOW = "Allow"
    NO_OPINION = "NoOpinion"


@dataclass(frozen=True)
class UserInfo:
    """The requesting user (authentication/user.Info)."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @staticmethod
    def service_account(namespace: str, name: str) -> "UserInfo":
        # serviceaccount.ServiceAccountInfo.UserInfo()
        return UserInfo(
            username=f"system:serviceaccount:{namespace}:{name}",
            groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "groups": list(self.groups),
            "uid": self.uid,
            "extra": {key: list(values) for key, values in sorted(self.extra.items())},
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "UserInfo":
        return UserInfo(
            username=data["username"],
            groups=tuple(data.get("groups", ())),
            uid=data.get("uid", ""),
            extra={key: tuple(values) for key, values in data.get("extra", {}).items()},
        )


@dataclass(frozen=True)
class RequestResource:
    """The resource of the admission request, for ``authorizer.requestResource``."""

    group: str
    version: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class AuthzRequest:
    """One authorization question (authorizer.AttributesRecord).

    Selectors are passed as written; parsing them into requirements (and reporting their
    parse errors) is left to the authorizer, e.g. a SubjectAccessReview.
    """

    user: UserInfo
    verb: str
    path: str = ""
    resource_request: bool = False
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    field_selector: str = ""
    label_selector: str = ""


@dataclass(frozen=True)
class AuthzDecision:
    """What an authorizer answered; ``error`` set means the check errored."""

    decision: Decision
    reason: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision.value, "reason": self.reason, "error": self.error}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "AuthzDecision":
        return AuthzDecision(Decision(data["decision"]), data.get("reason", ""), data.get("error"))


class Authorizer(Protocol):
    """Answers authorization questions; must not raise for a simple "no"."""

    def authorize(self, request: AuthzRequest) -> AuthzDecision: ...


def _matches(allowed: Sequence[str], value: str) -> bool:
    return "*" in allowed or value in allowed


@dataclass(frozen=True)
class AuthzRule:
    """One allow rule; ``*`` matches anything. Empty user and group lists match every user.

    A resource rule matches ``resource`` or ``resource/subresource`` in ``resources``.
    A path rule (``paths``) matches non-resource requests; a trailing ``*`` is a prefix match,
    as in RBAC nonResourceURLs.
    """

    verbs: tuple[str, ...]
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ("*",)
    names: tuple[str, ...] = ("*",)
    paths: tuple[str, ...] = ()

    def applies_to(self, user: UserInfo) -> bool:
        if not self.users and not self.groups:
            return True
        return _matches(self.users, user.username) or any(_matches(self.groups, g) for g in user.groups)

    def allows(self, request: AuthzRequest) -> bool:
        if not self.applies_to(request.user) or not _matches(self.verbs, request.verb):
            return False
        if not request.resource_request:
            return any(
                path == request.path or (path.endswith("*") and request.path.startswith(path[:-1]))
                for path in self.paths
            )
        resource = request.resource + (f"/{request.subresource}" if request.subresource else "")
        return (
            _matches(self.api_groups, request.api_group)
            and (_matches(self.resources, resource))
            and _matches(self.namespaces, request.namespace)
            and _matches(self.names, request.name)
        )


@dataclass(frozen=True)
class RuleAuthorizer:
    """An offline allow-list: Allow when a rule matches, otherwise NoOpinion (as RBAC)."""

    rules: tuple[AuthzRule, ...] = ()
    reason: str = ""

    def authorize(self, request: AuthzRequest) -> AuthzDecision:
        for rule in self.rules:
            if rule.allows(request):
                return AuthzDecision(Decision.ALLOW, self.reason)
        return AuthzDecision(Decision.NO_OPINION, "")

    @staticmethod
    def from_json(rules: Sequence[Mapping[str, Any]]) -> "RuleAuthorizer":
        """Rules as plain data (e.g. from a YAML file): keys are AuthzRule's, camelCase allowed."""
        aliases = {"apiGroups": "api_groups"}
        built = []
        for index, rule in enumerate(rules):
            fields = {aliases.get(key, key): tuple(value) for key, value in rule.items()}
            unknown = set(fields) - set(AuthzRule.__dataclass_fields__)
            if unknown:
                raise ValueError(f"authorizer rule {index}: unknown field(s) {sorted(unknown)}")
            if "verbs" not in fields:
                raise ValueError(f"authorizer rule {index}: 'verbs' is required")
            built.append(AuthzRule(**fields))
        return RuleAuthorizer(tuple(built))
