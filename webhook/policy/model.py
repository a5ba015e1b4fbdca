"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding as typed data.

Built by :func:`policy_from_dict` / :func:`binding_from_dict` from documents that
``validation.py`` has already accepted, with the API server's defaults applied
(failurePolicy Fail, matchPolicy Equivalent, empty selectors, scope ``*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FailurePolicy = Literal["Fail", "Ignore"]
MatchPolicy = Literal["Exact", "Equivalent"]
ValidationAction = Literal["Deny", "Warn", "Audit"]


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for requirement in self.match_expressions:
            present = requirement.key in labels
            if requirement.operator == "In" and not (present and labels[requirement.key] in requirement.values):
                return False
            if requirement.operator == "NotIn" and present and labels[requirement.key] in requirement.values:
                return False
            if requirement.operator == "Exists" and not present:
                return False
            if requirement.operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True)
class NamedRule:
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    resources: tuple[str, ...]
    operations: tuple[str, ...]
    scope: str = "*"
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchResources:
    namespace_selector: LabelSelector = field(default_factory=LabelSelector)
    object_selector: LabelSelector = field(default_factory=LabelSelector)
    resource_rules: tuple[NamedRule, ...] = ()
    exclude_resource_rules: tuple[NamedRule, ...] = ()
    match_policy: MatchPolicy = "Equivalent"


@dataclass(frozen=True)
class Validation:
    expression: str
    message: str = ""
    message_expression: str = ""
    reason: str = ""


@dataclass(frozen=True)
class AuditAnnotation:
    key: str
    value_expression: str


@dataclass(frozen=True)
class MatchCondition:
    name: str
    expression: str


@dataclass(frozen=True)
class Variable:
    name: str
    expression: str


@dataclass(frozen=True)
class ParamKind:
    api_version: str
    kind: str


@dataclass(frozen=True)
class ParamRef:
    name: str = ""
    namespace: str = ""
    selector: LabelSelector | None = None
    parameter_not_found_action: Literal["Allow", "Deny"] | None = None


@dataclass(frozen=True)
class Origin:
    """Where a policy or binding was read from, for error messages."""

    source: str = ""
    index: int = 0

    def __str__(self) -> str:
        return f"{self.source}#{self.index}"


@dataclass(frozen=True)
class Policy:
    name: str
    match_constraints: MatchResources | None
    validations: tuple[Validation, ...] = ()
    audit_annotations: tuple[AuditAnnotation, ...] = ()
    match_conditions: tuple[MatchCondition, ...] = ()
    variables: tuple[Variable, ...] = ()
    param_kind: ParamKind | None = None
    failure_policy: FailurePolicy = "Fail"
    origin: Origin = field(default_factory=Origin)


@dataclass(frozen=True)
class Binding:
    name: str
    policy_name: str
    validation_actions: tuple[ValidationAction, ...]
    param_ref: ParamRef | None = None
    match_resources: MatchResources | None = None
    origin: Origin = field(default_factory=Origin)


def selector_from_dict(raw: dict[str, Any] | None) -> LabelSelector:
    raw = raw or {}
    return LabelSelector(
        match_labels=tuple(sorted((raw.get("matchLabels") or {}).items())),
        match_expressions=tuple(
            Requirement(e["key"], e["operator"], tuple(e.get("values") or ()))
            for e in raw.get("matchExpressions") or ()
        ),
    )


def _rule(raw: dict[str, Any]) -> NamedRule:
    return NamedRule(
        api_groups=tuple(raw.get("apiGroups") or ()),
        api_versions=tuple(raw.get("apiVersions") or ()),
        resources=tuple(raw.get("resources") or ()),
        operations=tuple(raw.get("operations") or ()),
        scope=raw.get("scope") or "*",
        resource_names=tuple(raw.get("resourceNames") or ()),
    )


def match_resources_from_dict(raw: dict[str, Any] | None) -> MatchResources | None:
    if raw is None:
        return None
    return MatchResources(
        namespace_selector=selector_from_dict(raw.get("namespaceSelector")),
        object_selector=selector_from_dict(raw.get("objectSelector")),
        resource_rules=tuple(_rule(r) for r in raw.get("resourceRules") or ()),
        exclude_resource_rules=tuple(_rule(r) for r in raw.get("excludeResourceRules") or ()),
        match_policy=raw.get("matchPolicy") or "Equivalent",
    )


def policy_from_dict(obj: dict[str, Any], origin: Origin = Origin()) -> Policy:
    spec = obj.get("spec") or {}
    param_kind = spec.get("paramKind")
    return Policy(
        name=(obj.get("metadata") or {}).get("name") or "",
        match_constraints=match_resources_from_dict(spec.get("matchConstraints")),
        validations=tuple(
            Validation(
                expression=v.get("expression") or "",
                message=v.get("message") or "",
                message_expression=v.get("messageExpression") or "",
                reason=v.get("reason") or "",
            )
            for v in spec.get("validations") or ()
        ),
        audit_annotations=tuple(
            AuditAnnotation(a.get("key") or "", a.get("valueExpression") or "") for a in spec.get("auditAnnotations") or ()
        ),
        match_conditions=tuple(
            MatchCondition(m.get("name") or "", m.get("expression") or "") for m in spec.get("matchConditions") or ()
        ),
        variables=tuple(Variable(v.get("name") or "", v.get("expression") or "") for v in spec.get("variables") or ()),
        param_kind=ParamKind(param_kind.get("apiVersion") or "", param_kind.get("kind") or "") if param_kind else None,
        failure_policy=spec.get("failurePolicy") or "Fail",
        origin=origin,
    )


def binding_from_dict(obj: dict[str, Any], origin: Origin = Origin()) -> Binding:
    spec = obj.get("spec") or {}
    raw_ref = spec.get("paramRef")
    param_ref = None
    if raw_ref is not None:
        param_ref = ParamRef(
            name=raw_ref.get("name") or "",
            namespace=raw_ref.get("namespace") or "",
            selector=selector_from_dict(raw_ref["selector"]) if raw_ref.get("selector") is not None else None,
            parameter_not_found_action=raw_ref.get("parameterNotFoundAction"),
        )
    return Binding(
        name=obj["metadata"]["name"],
        policy_name=spec["policyName"],
        validation_actions=tuple(spec.get("validationActions") or ()),
        param_ref=param_ref,
        match_resources=match_resources_from_dict(spec.get("matchResources")),
        origin=origin,
    )
