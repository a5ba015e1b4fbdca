"""Resource rules, selectors and matchPolicy, as predicates/rules, predicates/namespace,
predicates/object and policy/matching decide them (cases follow rules_test.go)."""

from __future__ import annotations

import pytest

from webhook.policy.attributes import AdmissionAttributes, GroupVersionKind, GroupVersionResource
from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.matching import MatchError, match_resources, rule_matches
from webhook.policy.model import LabelSelector, MatchResources, NamedRule, Requirement

PODS = GroupVersionResource("", "v1", "pods")
NAMESPACES = GroupVersionResource("", "v1", "namespaces")
DEPLOYMENTS = GroupVersionResource("apps", "v1", "deployments")


def attributes(resource=PODS, operation="CREATE", namespace="default", sub_resource="", name="p", obj=None, old=None, kind="Pod"):
    return AdmissionAttributes(
        uid="u", kind=GroupVersionKind(resource.group, resource.version, kind), resource=resource,
        operation=operation, name=name, namespace=namespace, sub_resource=sub_resource, object=obj, old_object=old,
    )


def rule(resources=("pods",), operations=("CREATE",), groups=("",), versions=("v1",), scope="*", names=()):
    return NamedRule(tuple(groups), tuple(versions), tuple(resources), tuple(operations), scope, tuple(names))


@pytest.mark.parametrize(
    ("named_rule", "request_attributes", "expected"),
    [
        (rule(), attributes(), True),
        (rule(operations=("*",)), attributes(operation="DELETE"), True),
        (rule(operations=("UPDATE",)), attributes(), False),
        (rule(groups=("*",), versions=("*",), resources=("*",)), attributes(resource=DEPLOYMENTS), True),
        (rule(groups=("apps",)), attributes(), False),
        (rule(versions=("v2",)), attributes(), False),
        # a plain resource never matches a subresource request, and vice versa
        (rule(resources=("pods",)), attributes(sub_resource="status"), False),
        (rule(resources=("pods/status",)), attributes(), False),
        (rule(resources=("pods/status",)), attributes(sub_resource="status"), True),
        (rule(resources=("pods/*",)), attributes(sub_resource="exec"), True),
        # "pods/*" splits into pods + "*", and "*" also matches the empty subresource
        (rule(resources=("pods/*",)), attributes(), True),
        (rule(resources=("*/scale",), groups=("*",)), attributes(resource=DEPLOYMENTS, sub_resource="scale"), True),
        (rule(resources=("*/*",)), attributes(), True),
        (rule(resources=("*",)), attributes(sub_resource="status"), False),
        # scope: a Namespace object is cluster-scoped although it carries its own namespace
        (rule(scope="Namespaced"), attributes(), True),
        (rule(scope="Namespaced"), attributes(namespace=""), False),
        (rule(scope="Cluster"), attributes(namespace=""), True),
        (rule(resources=("namespaces",), scope="Cluster"), attributes(resource=NAMESPACES, namespace="ns1"), True),
        (rule(resources=("namespaces",), scope="Namespaced"), attributes(resource=NAMESPACES, namespace="ns1"), False),
    ],
)
def test_rule_matches(named_rule, request_attributes, expected):
    assert rule_matches(named_rule, request_attributes, request_attributes.resource) is expected


def labelled(**labels):
    return {"metadata": {"name": "x", "labels": labels}}


CLUSTER = StaticClusterData([
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"env": "prod"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev", "labels": {"env": "dev"}}},
])
PROD_ONLY = LabelSelector(match_labels=(("env", "prod"),))


@pytest.mark.parametrize(
    ("criteria", "request_attributes", "expected"),
    [
        (MatchResources(namespace_selector=PROD_ONLY, resource_rules=(rule(),)), attributes(namespace="prod"), True),
        (MatchResources(namespace_selector=PROD_ONLY, resource_rules=(rule(),)), attributes(namespace="dev"), False),
        # cluster-scoped objects are never excluded by a namespaceSelector
        (MatchResources(namespace_selector=PROD_ONLY), attributes(namespace=""), True),
        # a Namespace being created is matched on its own labels
        (MatchResources(namespace_selector=PROD_ONLY), attributes(resource=NAMESPACES, namespace="new", obj=labelled(env="prod"), kind="Namespace"), True),
        (MatchResources(namespace_selector=PROD_ONLY), attributes(resource=NAMESPACES, namespace="new", obj=labelled(env="dev"), kind="Namespace"), False),
        # ... and a Namespace being deleted on the stored one
        (MatchResources(namespace_selector=PROD_ONLY), attributes(resource=NAMESPACES, namespace="prod", operation="DELETE", kind="Namespace"), True),
        (MatchResources(object_selector=LabelSelector(match_expressions=(Requirement("app", "In", ("web",)),))), attributes(obj=labelled(app="web")), True),
        (MatchResources(object_selector=LabelSelector(match_expressions=(Requirement("app", "NotIn", ("web",)),))), attributes(obj=labelled(app="web")), False),
        (MatchResources(object_selector=LabelSelector(match_expressions=(Requirement("app", "Exists"),))), attributes(obj=labelled(), old=labelled(app="x"), operation="UPDATE"), True),
        (MatchResources(object_selector=LabelSelector(match_expressions=(Requirement("app", "Exists"),))), attributes(obj=None, operation="DELETE"), False),
        (MatchResources(resource_rules=(rule(operations=("*",)),), exclude_resource_rules=(rule(operations=("DELETE",)),)), attributes(operation="DELETE"), False),
        (MatchResources(resource_rules=(rule(names=("allowed",)),)), attributes(name="allowed"), True),
        (MatchResources(resource_rules=(rule(names=("allowed",)),)), attributes(name="other"), False),
    ],
)
def test_match_resources(criteria, request_attributes, expected):
    assert match_resources(criteria, request_attributes, CLUSTER).matches is expected


def test_unknown_namespace_is_an_error_only_when_the_rules_match():
    criteria = MatchResources(namespace_selector=PROD_ONLY, resource_rules=(rule(),))
    with pytest.raises(MatchError, match='^namespaces "gone" not found$'):
        match_resources(criteria, attributes(namespace="gone"), CLUSTER)
    assert not match_resources(criteria, attributes(namespace="gone", operation="UPDATE"), CLUSTER).matches


@pytest.mark.parametrize(
    ("match_policy", "expected_resource"),
    [("Equivalent", GroupVersionResource("apps", "v1", "deployments")), ("Exact", None)],
)
def test_match_policy(match_policy, expected_resource):
    criteria = MatchResources(resource_rules=(rule(groups=("apps",), resources=("deployments",)),), match_policy=match_policy)
    old_style = attributes(resource=GroupVersionResource("extensions", "v1beta1", "deployments"), kind="Deployment")
    matched = match_resources(criteria, old_style, CLUSTER)
    assert matched.resource == expected_resource
    if expected_resource is not None:
        assert matched.kind == GroupVersionKind("apps", "v1", "Deployment")
