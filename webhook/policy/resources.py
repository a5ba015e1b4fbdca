"""A static REST mapping for built-in kinds, and the equivalences matchPolicy: Equivalent uses.

Offline there is no discovery, so the built-in kinds of kube-apiserver v1.35 are listed here;
any other kind is assumed to be a custom resource whose plural is the lowercase kind plus the
usual English plural suffix (what kubectl's RESTMapper guesses for an unknown kind).
"""

from __future__ import annotations

from webhook.policy.attributes import GroupVersionKind, GroupVersionResource


class UnknownKindError(ValueError):
    """An apiVersion/kind that cannot be mapped to a resource."""


# group -> kind -> (resource, namespaced). Versions are not listed: any served version of a
# built-in group maps a kind to the same resource.
_BUILTIN: dict[str, dict[str, tuple[str, bool]]] = {
    "": {
        "Binding": ("bindings", True),
        "ComponentStatus": ("componentstatuses", False),
        "ConfigMap": ("configmaps", True),
        "Endpoints": ("endpoints", True),
        "Event": ("events", True),
        "LimitRange": ("limitranges", True),
        "Namespace": ("namespaces", False),
        "Node": ("nodes", False),
        "PersistentVolume": ("persistentvolumes", False),
        "PersistentVolumeClaim": ("persistentvolumeclaims", True),
        "Pod": ("pods", True),
        "PodTemplate": ("podtemplates", True),
        "ReplicationController": ("replicationcontrollers", True),
        "ResourceQuota": ("resourcequotas", True),
        "Secret": ("secrets", True),
        "Service": ("services", True),
        "ServiceAccount": ("serviceaccounts", True),
    },
    "apps": {
        "ControllerRevision": ("controllerrevisions", True),
        "DaemonSet": ("daemonsets", True),
        "Deployment": ("deployments", True),
        "ReplicaSet": ("replicasets", True),
        "StatefulSet": ("statefulsets", True),
    },
    "extensions": {
        "DaemonSet": ("daemonsets", True),
        "Deployment": ("deployments", True),
        "Ingress": ("ingresses", True),
        "NetworkPolicy": ("networkpolicies", True),
        "ReplicaSet": ("replicasets", True),
    },
    "batch": {"CronJob": ("cronjobs", True), "Job": ("jobs", True)},
    "autoscaling": {"HorizontalPodAutoscaler": ("horizontalpodautoscalers", True)},
    "networking.k8s.io": {
        "Ingress": ("ingresses", True),
        "IngressClass": ("ingressclasses", False),
        "NetworkPolicy": ("networkpolicies", True),
        "IPAddress": ("ipaddresses", False),
        "ServiceCIDR": ("servicecidrs", False),
    },
    "rbac.authorization.k8s.io": {
        "ClusterRole": ("clusterroles", False),
        "ClusterRoleBinding": ("clusterrolebindings", False),
        "Role": ("roles", True),
        "RoleBinding": ("rolebindings", True),
    },
    "policy": {"PodDisruptionBudget": ("poddisruptionbudgets", True)},
    "storage.k8s.io": {
        "CSIDriver": ("csidrivers", False),
        "CSINode": ("csinodes", False),
        "CSIStorageCapacity": ("csistoragecapacities", True),
        "StorageClass": ("storageclasses", False),
        "VolumeAttachment": ("volumeattachments", False),
        "VolumeAttributesClass": ("volumeattributesclasses", False),
    },
    "admissionregistration.k8s.io": {
        "MutatingWebhookConfiguration": ("mutatingwebhookconfigurations", False),
        "ValidatingWebhookConfiguration": ("validatingwebhookconfigurations", False),
        "ValidatingAdmissionPolicy": ("validatingadmissionpolicies", False),
        "ValidatingAdmissionPolicyBinding": ("validatingadmissionpolicybindings", False),
        "MutatingAdmissionPolicy": ("mutatingadmissionpolicies", False),
        "MutatingAdmissionPolicyBinding": ("mutatingadmissionpolicybindings", False),
    },
    "apiextensions.k8s.io": {"CustomResourceDefinition": ("customresourcedefinitions", False)},
    "apiregistration.k8s.io": {"APIService": ("apiservices", False)},
    "certificates.k8s.io": {
        "CertificateSigningRequest": ("certificatesigningrequests", False),
        "ClusterTrustBundle": ("clustertrustbundles", False),
    },
    "coordination.k8s.io": {"Lease": ("leases", True), "LeaseCandidate": ("leasecandidates", True)},
    "discovery.k8s.io": {"EndpointSlice": ("endpointslices", True)},
    "events.k8s.io": {"Event": ("events", True)},
    "flowcontrol.apiserver.k8s.io": {
        "FlowSchema": ("flowschemas", False),
        "PriorityLevelConfiguration": ("prioritylevelconfigurations", False),
    },
    "node.k8s.io": {"RuntimeClass": ("runtimeclasses", False)},
    "scheduling.k8s.io": {"PriorityClass": ("priorityclasses", False)},
    "resource.k8s.io": {
        "DeviceClass": ("deviceclasses", False),
        "ResourceClaim": ("resourceclaims", True),
        "ResourceClaimTemplate": ("resourceclaimtemplates", True),
        "ResourceSlice": ("resourceslices", False),
    },
    "authentication.k8s.io": {
        "TokenReview": ("tokenreviews", False),
        "SelfSubjectReview": ("selfsubjectreviews", False),
    },
    "authorization.k8s.io": {
        "LocalSubjectAccessReview": ("localsubjectaccessreviews", True),
        "SelfSubjectAccessReview": ("selfsubjectaccessreviews", False),
        "SelfSubjectRulesReview": ("selfsubjectrulesreviews", False),
        "SubjectAccessReview": ("subjectaccessreviews", False),
    },
    "internal.apiserver.k8s.io": {"StorageVersion": ("storageversions", False)},
    "storagemigration.k8s.io": {"StorageVersionMigration": ("storageversionmigrations", False)},
}

# Resources served under several group/versions that convert into each other. kube-apiserver
# builds this from its storage (equivalent resource mapper); these are the v1.35 ones that
# still matter to policies written against older manifests.
_EQUIVALENT_GROUPS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("apps", "v1"), ("apps", "v1beta2"), ("apps", "v1beta1"), ("extensions", "v1beta1")),
    (("networking.k8s.io", "v1"), ("networking.k8s.io", "v1beta1"), ("extensions", "v1beta1")),
    (("batch", "v1"), ("batch", "v1beta1")),
    (("policy", "v1"), ("policy", "v1beta1")),
    (("autoscaling", "v2"), ("autoscaling", "v1"), ("autoscaling", "v2beta2"), ("autoscaling", "v2beta1")),
    (("", "v1"), ("events.k8s.io", "v1"), ("events.k8s.io", "v1beta1")),
)


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    if api_version.count("/") > 1 or not api_version or api_version.startswith("/") or api_version.endswith("/"):
        raise UnknownKindError(f"invalid apiVersion {api_version!r}: expected <group>/<version> or <version>")
    group, _, version = api_version.rpartition("/")
    return group, version


def _guess_plural(kind: str) -> str:
    # k8s.io/apimachinery/pkg/api/meta/restmapper.go UnsafeGuessKindToResource
    singular = kind.lower()
    if singular.endswith(("s", "x", "z", "ch", "sh")):
        return singular + "es"
    if singular.endswith("y") and len(singular) > 1 and singular[-2] not in "aeiou":
        return singular[:-1] + "ies"
    return singular + "s"


def resource_for(api_version: str, kind: str) -> tuple[GroupVersionResource, bool]:
    """The resource and scope (namespaced?) of a kind; custom kinds get a guessed plural."""
    if not kind:
        raise UnknownKindError(f"object of apiVersion {api_version!r} has no kind")
    group, version = split_api_version(api_version)
    known = _BUILTIN.get(group)
    if known is not None:
        if kind not in known:
            raise UnknownKindError(
                f"no kind {kind!r} in built-in API group {group or 'core'!r} ({api_version}); "
                f"known kinds: {', '.join(sorted(known))}"
            )
        resource, namespaced = known[kind]
        return GroupVersionResource(group, version, resource), namespaced
    if "." not in group:
        raise UnknownKindError(
            f"unknown API group {group!r} in apiVersion {api_version!r}: custom resource groups "
            "contain a dot (e.g. example.com/v1)"
        )
    # A custom resource: most are namespaced; cluster-scoped ones are told apart by the caller
    # (an object without metadata.namespace) when it matters.
    return GroupVersionResource(group, version, _guess_plural(kind)), True


def is_builtin_group(api_version: str) -> bool:
    """Whether the group of ``api_version`` is served by kube-apiserver itself."""
    return api_version.rpartition("/")[0] in _BUILTIN


def kind_for(gvr: GroupVersionResource) -> GroupVersionKind | None:
    """The kind served at a built-in resource, or None when not built in."""
    for kind, (resource, _) in _BUILTIN.get(gvr.group, {}).items():
        if resource == gvr.resource:
            return GroupVersionKind(gvr.group, gvr.version, kind)
    return None


def equivalent_resources(gvr: GroupVersionResource) -> list[GroupVersionResource]:
    """Every group/version serving the same objects as ``gvr`` (``gvr`` first)."""
    result = [gvr]
    for group_versions in _EQUIVALENT_GROUPS:
        if (gvr.group, gvr.version) not in group_versions:
            continue
        for group, version in group_versions:
            candidate = GroupVersionResource(group, version, gvr.resource)
            if candidate != gvr and kind_for(candidate) is not None and candidate not in result:
                result.append(candidate)
    return result
