"""Session fixtures for the e2e suite: a real API server, celgate registered with it as a
validating webhook, and fresh namespaces.

Two ways to get the cluster:

- default: ``ControlPlane`` (etcd + kube-apiserver v1.35 on loopback) and ``celgate serve`` as a
  local process with ``--kubeconfig``, registered by ``clientConfig.url`` https://127.0.0.1:PORT;
- ``CELGATE_E2E_KUBECONFIG=path``: any cluster where manifests/ is installed (tests/e2e/kind.sh);
  the suite registers the installed Service instead. ``CELGATE_E2E_AUDIT_LOG`` (a file) or
  ``CELGATE_E2E_AUDIT_LOG_CMD`` (a command printing it) give the API server audit log; without
  either the audit tests skip.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from kubernetes import config as k8s_config

from admission_request import Kube
from celgate_process import CelgateProcess
from controlplane import ControlPlane
from e2e_objects import E2E_POLICIES, SHIPPED_POLICIES, WEBHOOK_PREFIX, pod
from registration import (
    E2E_WEBHOOK_CONFIG, MODE_LABEL, REPO, SUITE_LABEL, wait_until, webhook_configuration,
)

SHIPPED_AUDIT_POLICY = REPO / "manifests" / "audit" / "audit-policy.yaml"


@dataclass
class Cluster:
    """The API server under test, how to reach it, and its audit log."""

    kubeconfig: str
    kube: Kube
    control_plane: ControlPlane | None = None
    audit_cmd: list[str] | None = None
    audit_file: str | None = None
    namespaces: list[str] = field(default_factory=list)

    @property
    def local(self) -> bool:
        return self.control_plane is not None

    @property
    def has_audit_log(self) -> bool:
        return bool(self.audit_file or self.audit_cmd)

    def audit_events(self) -> list[dict[str, Any]]:
        if self.audit_cmd:
            text = subprocess.run(self.audit_cmd, check=True, capture_output=True, text=True, timeout=60).stdout
        elif self.audit_file:
            try:
                text = Path(self.audit_file).read_text()
            except FileNotFoundError:
                return []
        else:
            return []
        events = []
        for line in text.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
        return events

    def create_namespace(self, mode: str, labels: dict[str, str] | None = None, prefix: str = "e2e") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.kube.must("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {SUITE_LABEL: "true", MODE_LABEL: mode, **(labels or {})}},
        })
        self.namespaces.append(name)
        return name


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    external = os.environ.get("CELGATE_E2E_KUBECONFIG")
    if external:
        api = k8s_config.new_client_from_config(config_file=external)
        audit_cmd = os.environ.get("CELGATE_E2E_AUDIT_LOG_CMD")
        c = Cluster(external, Kube(api), audit_cmd=shlex.split(audit_cmd) if audit_cmd else None,
                    audit_file=os.environ.get("CELGATE_E2E_AUDIT_LOG"))
        yield c
        _cleanup_namespaces(c)
        api.close()
        return
    # The built-in PodSecurity plugin reads the same namespace labels and would deny first.
    # The audit Policy is the one celgate ships (tests/e2e/test_compliance.py checks its events).
    # Aggregator routing: webhook Services resolve through their EndpointSlices, so the
    # installed celgate (test_install.py) is reached at this host's address.
    with ControlPlane(extra_apiserver_args=["--disable-admission-plugins=PodSecurity",
                                            "--enable-aggregator-routing=true"],
                      audit_policy=SHIPPED_AUDIT_POLICY) as cp:
        api = k8s_config.new_client_from_config(config_file=cp.kubeconfig_path)
        c = Cluster(cp.kubeconfig_path, Kube(api), control_plane=cp, audit_file=cp.audit_log_path)
        _keep_configmap_param_informer(c.kube)
        yield c
        api.close()


def _keep_configmap_param_informer(kube: Kube) -> None:
    """A policy and binding with paramKind ConfigMap that match nothing, for the whole session.

    kube-apiserver (seen on v1.35.8) stops its param informer for a paramKind for good once no
    binding references that paramKind for a policy-refresh tick: a test that installs and then
    removes the only ConfigMap-param bindings (test_compliance.py installs the Pod Security ones)
    leaves every later native binding of that kind with "no params found". celgate does not
    share the defect, so without this keeper the differential would report kube-apiserver's bug
    as a difference."""
    kube.apply({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": "celgate-e2e-configmap-param-keeper"},
                "spec": {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                         "matchConstraints": {"resourceRules": [{"apiGroups": ["celgate.invalid"], "apiVersions": ["v1"],
                                                                  "operations": ["CREATE"], "resources": ["nothing"]}]},
                         "validations": [{"expression": "true"}]}})
    kube.apply({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": "celgate-e2e-configmap-param-keeper"},
                "spec": {"policyName": "celgate-e2e-configmap-param-keeper", "validationActions": ["Deny"],
                         "paramRef": {"name": "celgate-e2e-none", "namespace": "default", "parameterNotFoundAction": "Allow"}}})


def _cleanup_namespaces(c: Cluster) -> None:
    for name in c.namespaces:
        c.kube.delete("v1", "Namespace", name)


@dataclass
class Webhook:
    """celgate as the API server sees it: the e2e webhook configuration and what it points at."""

    cluster: Cluster
    client_config: dict[str, Any]
    process: CelgateProcess | None

    def register(self, *, name: str = E2E_WEBHOOK_CONFIG, failure_policy: str = "Fail",
                 client_config: dict[str, Any] | None = None, mode: str = "webhook") -> dict[str, Any]:
        config = webhook_configuration(client_config or self.client_config, name=name,
                                       failure_policy=failure_policy, mode=mode)
        self.cluster.kube.apply(config)
        return config


def _installed_client_config(kube: Kube) -> dict[str, Any]:
    installed = kube.must("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/celgate")
    client_config = installed["webhooks"][0]["clientConfig"]
    if not client_config.get("caBundle"):
        raise RuntimeError("the installed ValidatingWebhookConfiguration celgate has no caBundle: run manifests/install-certs.sh")
    return client_config


@pytest.fixture(scope="session")
def webhook(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    process = None
    if cluster.local:
        process = CelgateProcess(tmp_path_factory.mktemp("celgate"), [SHIPPED_POLICIES, E2E_POLICIES],
                                 cluster.kubeconfig, workers=2, extra_args=["--policy-report-interval", "1"])
        process.start()
        client_config = {"url": process.url, "caBundle": process.ca_bundle}
    else:
        client_config = _installed_client_config(cluster.kube)
    hook = Webhook(cluster, client_config, process)
    try:
        hook.register()
        # The API server loads webhook configurations asynchronously: wait for a known denial.
        probe_ns = cluster.create_namespace("webhook", {"pod-security.kubernetes.io/enforce": "baseline"}, prefix="probe")
        wait_until(lambda: cluster.kube.create(pod("probe", privileged=True), probe_ns, dry_run=True),
                   lambda outcome: outcome.message.startswith(WEBHOOK_PREFIX), "the celgate webhook")
        yield hook
    finally:
        cluster.kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", E2E_WEBHOOK_CONFIG)
        if process is not None:
            process.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Callable[..., str]:
    """``namespace(mode="webhook", **labels)``: a fresh namespace (no controller-manager here:
    deleted namespaces never finish terminating, so none is reused)."""

    def make(mode: str = "webhook", labels: dict[str, str] | None = None) -> str:
        return cluster.create_namespace(mode, labels)

    return make
