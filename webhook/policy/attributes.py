"""AdmissionAttributes: one admission request, as plain typed data.

The request model the policy core decides on, so it lives in the core (like the apiserver's
admission.Attributes, which the VAP plugin takes as input). Both edges build it: the webhook from
an AdmissionReview ``request`` (webhook/admission/review.py), the CLI from a manifest
(webhook/admission/manifest.py, ``celgate test``). The policy layer never sees HTTP or files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


@dataclass(frozen=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    def to_dict(self) -> dict[str, str]:
        return {"group": self.group, "version": self.version, "kind": self.kind}


@dataclass(frozen=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str

    def to_dict(self) -> dict[str, str]:
        return {"group": self.group, "version": self.version, "resource": self.resource}


@dataclass(frozen=True)
class UserInfo:
    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.username:
            out["username"] = self.username
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


@dataclass(frozen=True)
class AdmissionAttributes:
    """Everything kube-apiserver knows about a request when admission runs."""

    uid: str
    kind: GroupVersionKind
    resource: GroupVersionResource
    operation: Operation
    name: str = ""
    namespace: str = ""
    sub_resource: str = ""
    # What the client asked for, before conversion (matchPolicy: Equivalent). Default: kind/resource.
    request_kind: GroupVersionKind | None = None
    request_resource: GroupVersionResource | None = None
    request_sub_resource: str = ""
    user_info: UserInfo = field(default_factory=UserInfo)
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    dry_run: bool = False

    @property
    def effective_request_kind(self) -> GroupVersionKind:
        return self.request_kind or self.kind

    @property
    def effective_request_resource(self) -> GroupVersionResource:
        return self.request_resource or self.resource
