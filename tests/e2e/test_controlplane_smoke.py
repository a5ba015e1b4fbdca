"""Smoke test: a real kube-apiserver + etcd start, store objects and run native VAP.

Run: python -m pytest tests/e2e/test_controlplane_smoke.py -m e2e -s
(the first run builds the binaries, which takes several minutes; see
tests/e2e/build-controlplane.sh).
"""

import json
import time
import uuid

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

try:  # tests/e2e as a package
    from .controlplane import ControlPlane
except ImportError:  # rootdir-relative import (no __init__.py)
    from controlplane import ControlPlane

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def control_plane():
    with ControlPlane() as cp:
        yield cp


@pytest.fixture
def api(control_plane):
    api_client = config.new_client_from_config(config_file=control_plane.kubeconfig_path)
    yield api_client
    api_client.close()


@pytest.fixture
def namespace(api):
    """A fresh namespace per test (without a controller-manager, deleted ones stay Terminating)."""
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def pod(name):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        # Never pulled or run: there is no kubelet, the object is only stored.
        "spec": {"containers": [{"name": "main", "image": "celgate.invalid/noop:0"}]},
    }


def test_version_is_1_35(api):
    info = client.VersionApi(api).get_code()
    print(f"/version: {info.git_version} ({info.go_version})")
    assert info.git_version.startswith("v1.35.")
    assert (info.major, info.minor) == ("1", "35")


def test_namespace_and_pod_are_stored(api, namespace, control_plane):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, pod("stored"))
    got = core.read_namespaced_pod("stored", namespace)
    assert got.metadata.uid
    assert got.spec.node_name is None  # no scheduler
    assert got.status.phase == "Pending"

    # The audit log (Metadata level) records the create.
    events = [
        e
        for e in control_plane.audit_events()
        if e.get("verb") == "create"
        and e.get("objectRef", {}).get("resource") == "pods"
        and e.get("objectRef", {}).get("namespace") == namespace
    ]
    assert events and events[-1]["level"] == "Metadata"
    assert events[-1]["responseStatus"]["code"] == 201


def test_native_validating_admission_policy_denies(api, namespace):
    adm = client.AdmissionregistrationV1Api(api)
    core = client.CoreV1Api(api)
    policy_name = f"deny-me-{namespace}"
    binding_name = f"{policy_name}-binding"
    adm.create_validating_admission_policy(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": policy_name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["pods"],
                        }
                    ]
                },
                # Deny when object.metadata.name == "deny-me".
                "validations": [
                    {
                        "expression": '!(object.metadata.name == "deny-me")',
                        "message": "pods named deny-me are not allowed",
                    }
                ],
            },
        }
    )
    try:
        adm.create_validating_admission_policy_binding(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": binding_name},
                "spec": {
                    "policyName": policy_name,
                    "validationActions": ["Deny"],
                    # Only this test's namespace.
                    "matchResources": {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": namespace}
                        }
                    },
                },
            }
        )

        # Policy propagation is asynchronous (~1 s): poll until the create is denied.
        denial = None
        deadline = time.monotonic() + 30
        attempts = 0
        while time.monotonic() < deadline:
            attempts += 1
            try:
                core.create_namespaced_pod(namespace, pod("deny-me"))
            except ApiException as e:
                denial = e
                break
            core.delete_namespaced_pod("deny-me", namespace, grace_period_seconds=0)
            time.sleep(0.25)
        assert denial is not None, "policy never took effect within 30 s"

        status = json.loads(denial.body)
        print(f"\nnative VAP denial after {attempts} attempt(s): HTTP {denial.status} "
              f"reason={status.get('reason')}\nmessage: {status['message']}")
        assert denial.status == 422
        assert status["reason"] == "Invalid"
        assert status["message"] == (
            f"pods \"deny-me\" is forbidden: ValidatingAdmissionPolicy '{policy_name}' "
            f"with binding '{binding_name}' denied request: pods named deny-me are not allowed"
        )

        # Other names still pass.
        core.create_namespaced_pod(namespace, pod("allowed"))
    finally:
        adm.delete_validating_admission_policy_binding(binding_name)
        adm.delete_validating_admission_policy(policy_name)
