"""The real kube-apiserver authenticating to celgate with a client certificate.

kube-apiserver presents a client certificate to a webhook when its ``--admission-control-config-file``
names a WebhookAdmissionConfiguration whose kubeConfigFile has a user for that webhook (by
``<service>.<namespace>.svc``, a ``*.`` suffix, or ``*`` for all; k8s.io/apiserver
pkg/util/webhook/authentication.go). This module starts its own control plane configured so
(the session one has no such file), and two ``celgate serve --client-ca-file``: one trusting the
CA that signed the API server's certificate — its denials reach the user — and one trusting
another CA, whose TLS refusal the API server reports as a failed webhook call (failurePolicy
Fail: the request is rejected, never admitted).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from kubernetes import config as k8s_config

from admission_request import Kube
from celgate_process import CelgateProcess
from controlplane import ControlPlane
from e2e_objects import SHIPPED_POLICIES, WEBHOOK_PREFIX, pod, psa_labels
from registration import MODE_LABEL, SUITE_LABEL, wait_until, webhook_configuration

from webhook.certs import generate_ca, issue_certificate

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(os.environ.get("CELGATE_E2E_KUBECONFIG")),
                       reason="needs its own local control plane (an AdmissionConfiguration at start-up)"),
]


def _ca(directory: Path, name: str) -> tuple[Path, object, object]:
    ca, key = generate_ca(name)
    path = directory / f"{name}.crt"
    path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return path, ca, key


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The API server's webhook client certificate, its CA, another CA, and the admission config."""
    directory = tmp_path_factory.mktemp("apiserver-identity")
    ca_path, ca, ca_key = _ca(directory, "webhook-client-ca")
    other_path, _, _ = _ca(directory, "other-ca")
    cert, key = issue_certificate(ca, ca_key, common_name="kube-apiserver-webhook-client", client=True)
    cert_path, key_path = directory / "client.crt", directory / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    kubeconfig = directory / "webhook-kubeconfig.yaml"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        # "*": every webhook; a Service-registered celgate would be "celgate.celgate-system.svc".
        "users": [{"name": "*", "user": {"client-certificate": str(cert_path), "client-key": str(key_path)}}],
    }))
    admission = directory / "admission-config.yaml"
    admission.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
        "plugins": [{"name": "ValidatingAdmissionWebhook", "configuration": {
            "apiVersion": "apiserver.config.k8s.io/v1", "kind": "WebhookAdmissionConfiguration",
            "kubeConfigFile": str(kubeconfig)}}],
    }))
    return {"client_ca": ca_path, "other_ca": other_path, "admission": admission}


@pytest.fixture(scope="module")
def kube(identity) -> Iterator[tuple[Kube, str]]:
    with ControlPlane(extra_apiserver_args=["--disable-admission-plugins=PodSecurity",
                                            f"--admission-control-config-file={identity['admission']}"]) as cp:
        api = k8s_config.new_client_from_config(config_file=cp.kubeconfig_path)
        yield Kube(api), cp.kubeconfig_path
        api.close()


def _serve(kube: Kube, kubeconfig: str, workdir: Path, client_ca: Path, mode: str) -> CelgateProcess:
    process = CelgateProcess(workdir, [SHIPPED_POLICIES], kubeconfig, extra_args=["--client-ca-file", str(client_ca)])
    process.start()
    kube.apply(webhook_configuration({"url": process.url, "caBundle": process.ca_bundle},
                                     name=f"celgate-e2e-{mode}", mode=mode))
    return process


def _namespace(kube: Kube, mode: str) -> str:
    name = f"mtls-{mode}"
    kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "labels": {SUITE_LABEL: "true", MODE_LABEL: mode, **psa_labels("restricted", "enforce")}}})
    return name


def test_celgate_requiring_the_apiservers_client_certificate_answers_it(kube, identity, tmp_path: Path) -> None:
    api, kubeconfig = kube
    process = _serve(api, kubeconfig, tmp_path / "trusting", identity["client_ca"], "mtls")
    try:
        namespace = _namespace(api, "mtls")
        denied = wait_until(lambda: api.create(pod("privileged", privileged=True), namespace, dry_run=True),
                            lambda outcome: outcome.message.startswith(WEBHOOK_PREFIX), "celgate behind mTLS")
        assert denied.status == 403 and "privileged" in denied.message
        assert api.create(pod("restricted", restricted=True), namespace, dry_run=True).allowed
    finally:
        process.stop()


def test_celgate_trusting_another_ca_refuses_the_apiserver_and_the_request_fails_closed(
        kube, identity, tmp_path: Path) -> None:
    api, kubeconfig = kube
    process = _serve(api, kubeconfig, tmp_path / "foreign", identity["other_ca"], "foreign")
    try:
        namespace = _namespace(api, "foreign")
        refused = wait_until(lambda: api.create(pod("restricted", restricted=True), namespace, dry_run=True),
                             lambda outcome: "failed calling webhook" in outcome.message, "the refused webhook")
        assert not refused.allowed
        assert not refused.message.startswith(WEBHOOK_PREFIX)
    finally:
        process.stop()
