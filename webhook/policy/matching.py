"""Does a policy (matchConstraints) or a binding (matchResources) apply to a request?

Follows k8s.io/apiserver/pkg/admission/plugin/policy/matching/matching.go and the webhook
predicates (namespace, object, rules): selectors first, then excludeResourceRules, then
resourceRules with matchPolicy Equivalent falling back to equivalent group/versions. Selector
errors (an unknown namespace) only surface when the resource rules match.
"""

from __future__ import annotations

from dataclasses import dataclass

from webhook.policy.attributes import AdmissionAttributes, GroupVersionKind, GroupVersionResource
from webhook.policy.cluster_data import ClusterData
from webhook.policy.model import LabelSelector, MatchResources, NamedRule
from webhook.policy.resources import equivalent_resources, kind_for

NAMESPACES = GroupVersionResource("", "v1", "namespaces")


class MatchError(Exception):
    """Matching could not be decided (kube-apiserver turns this into a configuration error)."""


@dataclass(frozen=True)
class Match:
    matches: bool
    resource: GroupVersionResource | None = None
    kind: GroupVersionKind | None = None


NO_MATCH = Match(False)


def rule_matches(rule: NamedRule, attributes: AdmissionAttributes, resource: GroupVersionResource) -> bool:
    """predicates/rules: scope, operation, group, version, resource[/subresource]."""
    return (
        _scope(rule.scope, attributes, resource)
        and ("*" in rule.operations or attributes.operation in rule.operations)
        and ("*" in rule.api_groups or resource.group in rule.api_groups)
        and ("*" in rule.api_versions or resource.version in rule.api_versions)
        and _resource(rule.resources, resource.resource, attributes.sub_resource)
    )


def _scope(scope: str, attributes: AdmissionAttributes, resource: GroupVersionResource) -> bool:
    # A Namespace object is cluster-scoped although its requests carry its own name as namespace.
    if scope == "Namespaced":
        return resource != NAMESPACES and attributes.namespace != ""
    if scope == "Cluster":
        return resource == NAMESPACES or attributes.namespace == ""
    return scope == "*"


def _resource(resources: tuple[str, ...], resource: str, sub_resource: str) -> bool:
    for entry in resources:
        res, _, sub = entry.partition("/")
        if (res == "*" or res == resource) and (sub == "*" or sub == sub_resource):
            return True
    return False


def _rules_match(
    rules: tuple[NamedRule, ...], match_policy: str, attributes: AdmissionAttributes
) -> Match:
    for rule in rules:
        if rule_matches(rule, attributes, attributes.resource) and _name_matches(rule, attributes):
            return Match(True, attributes.resource, attributes.kind)
    if match_policy != "Equivalent":
        return NO_MATCH
    for rule in rules:
        for equivalent in equivalent_resources(attributes.resource):
            if equivalent == attributes.resource or not rule_matches(rule, attributes, equivalent):
                continue
            kind = kind_for(equivalent) if not attributes.sub_resource else None
            if kind is None:
                raise MatchError(
                    f"unable to convert to {equivalent.group}/{equivalent.version}, "
                    f"Resource={equivalent.resource}: unknown kind"
                )
            if _name_matches(rule, attributes):
                return Match(True, equivalent, kind)
    return NO_MATCH


def _name_matches(rule: NamedRule, attributes: AdmissionAttributes) -> bool:
    return not rule.resource_names or attributes.name in rule.resource_names


def namespace_labels(attributes: AdmissionAttributes, cluster: ClusterData) -> dict[str, str]:
    """predicates/namespace GetNamespaceLabels: a Namespace being written is its own source."""
    if (
        attributes.resource.resource == "namespaces"
        and not attributes.sub_resource
        and attributes.operation in ("CREATE", "UPDATE")
    ):
        return _labels(attributes.object)
    namespace = cluster.get_namespace(attributes.namespace)
    if namespace is None:
        raise MatchError(f'namespaces "{attributes.namespace}" not found')
    return _labels(namespace)


def _labels(obj: dict | None) -> dict[str, str]:
    metadata = (obj or {}).get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) else {}


def _namespace_selector(selector: LabelSelector, attributes: AdmissionAttributes, cluster: ClusterData) -> bool:
    if attributes.namespace == "" and attributes.resource.resource != "namespaces":
        return True  # cluster-scoped objects are never exempted by a namespaceSelector
    if selector.empty:
        return True
    return selector.matches(namespace_labels(attributes, cluster))


def _object_selector(selector: LabelSelector, attributes: AdmissionAttributes) -> bool:
    if selector.empty:
        return True
    return any(
        obj is not None and selector.matches(_labels(obj))
        for obj in (attributes.object, attributes.old_object)
    )


def match_resources(criteria: MatchResources, attributes: AdmissionAttributes, cluster: ClusterData) -> Match:
    """matching.go Matches: the resource/kind matched (maybe an equivalent), or no match.

    Raises MatchError when the answer depends on something that cannot be determined.
    """
    namespace_error: MatchError | None = None
    try:
        if not _namespace_selector(criteria.namespace_selector, attributes, cluster):
            return NO_MATCH
    except MatchError as exc:
        namespace_error = exc
    if not _object_selector(criteria.object_selector, attributes):
        return NO_MATCH
    if _rules_match(criteria.exclude_resource_rules, criteria.match_policy, attributes).matches:
        return NO_MATCH
    if criteria.resource_rules:
        matched = _rules_match(criteria.resource_rules, criteria.match_policy, attributes)
    else:
        matched = Match(True, attributes.resource, attributes.kind)
    if not matched.matches:
        return NO_MATCH
    if namespace_error is not None:
        raise namespace_error
    return matched


def is_policy_resource(attributes: AdmissionAttributes) -> bool:
    """generic/plugin.go: requests for policies and bindings themselves are never checked."""
    return attributes.resource.group == "admissionregistration.k8s.io" and attributes.resource.resource in (
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    )
