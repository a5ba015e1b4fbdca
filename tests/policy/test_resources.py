"""The static REST mapping and matchPolicy: Equivalent's equivalences."""

from __future__ import annotations

import pytest

from webhook.policy.attributes import GroupVersionResource as GVR
from webhook.policy.resources import UnknownKindError, equivalent_resources, resource_for


@pytest.mark.parametrize(
    ("api_version", "kind", "resource", "namespaced"),
    [
        ("v1", "Pod", GVR("", "v1", "pods"), True),
        ("v1", "Namespace", GVR("", "v1", "namespaces"), False),
        ("apps/v1", "Deployment", GVR("apps", "v1", "deployments"), True),
        ("networking.k8s.io/v1", "NetworkPolicy", GVR("networking.k8s.io", "v1", "networkpolicies"), True),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", GVR("rbac.authorization.k8s.io", "v1", "clusterroles"), False),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy",
         GVR("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies"), False),
        # custom resources: lowercase plural guess
        ("example.com/v1", "Widget", GVR("example.com", "v1", "widgets"), True),
        ("example.com/v1", "Policy", GVR("example.com", "v1", "policies"), True),
        ("example.com/v1", "Gateway", GVR("example.com", "v1", "gateways"), True),
        ("example.com/v1", "Ingress", GVR("example.com", "v1", "ingresses"), True),
    ],
)
def test_resource_for(api_version, kind, resource, namespaced):
    assert resource_for(api_version, kind) == (resource, namespaced)


@pytest.mark.parametrize(
    ("api_version", "kind", "message"),
    [
        ("v1", "Deployment", "no kind 'Deployment' in built-in API group 'core' (v1)"),
        ("apps/v1", "", "object of apiVersion 'apps/v1' has no kind"),
        ("a/b/c", "X", "invalid apiVersion 'a/b/c'"),
        ("widgets/v1", "Widget", "unknown API group 'widgets'"),
    ],
)
def test_unknown_kinds(api_version, kind, message):
    with pytest.raises(UnknownKindError) as raised:
        resource_for(api_version, kind)
    assert str(raised.value).startswith(message)


def test_deployments_are_equivalent_across_apps_and_extensions():
    assert equivalent_resources(GVR("apps", "v1", "deployments")) == [
        GVR("apps", "v1", "deployments"),
        GVR("apps", "v1beta2", "deployments"),
        GVR("apps", "v1beta1", "deployments"),
        GVR("extensions", "v1beta1", "deployments"),
    ]


def test_a_resource_only_one_group_serves_has_no_equivalents():
    assert equivalent_resources(GVR("apps", "v1", "controllerrevisions")) == [
        GVR("apps", "v1", "controllerrevisions"), GVR("apps", "v1beta2", "controllerrevisions"),
        GVR("apps", "v1beta1", "controllerrevisions"),
    ]
    assert equivalent_resources(GVR("example.com", "v1", "widgets")) == [GVR("example.com", "v1", "widgets")]
