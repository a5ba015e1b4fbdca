"""celgate verify over a fake API server with the webhook registered by Service, the shipped
way (the e2e suite covers registration by URL): every check passes on the shipped
configuration, and each misconfiguration gets its ✗."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.canary import CanaryResult
from webhook.certs import generate_bundle
from webhook.verification import VerifyOptions, verify

REPO = Path(__file__).resolve().parent.parent
SHIPPED = yaml.safe_load((REPO / "manifests" / "validating-webhook.yaml").read_text())
BUNDLE = generate_bundle(days=90)
PARAMS = {"namespace": "celgate-system", "name": "pod-security-exemptions", "selector": False, "parameterNotFoundAction": "Deny"}
POLICIES = {"generation": 3, "policies": ["pss-enforce", "pss-warn"], "lastReloadError": None,
            "enforcement": [{"policy": "pss-enforce", "binding": "pss-enforce", "validationActions": ["Deny"], "paramRef": PARAMS},
                            {"policy": "pss-warn", "binding": "pss-warn", "validationActions": ["Warn"],
                             "paramRef": {**PARAMS, "parameterNotFoundAction": "Allow"}}]}


class FakeCluster:
    def __init__(self, config: dict[str, Any], *, ready: int = 2, generations: tuple[int, ...] = (3, 3),
                 tls_crt: bytes = BUNDLE.cert_pem) -> None:
        self.objects: dict[str, Any] = {
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/celgate": config,
            "/api/v1/namespaces/celgate-system/services/celgate": {"metadata": {"name": "celgate"}},
            "/api/v1/namespaces/celgate-system/secrets/celgate-tls": {"data": {"tls.crt": base64.b64encode(tls_crt).decode()}},
            "/apis/discovery.k8s.io/v1/namespaces/celgate-system/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dcelgate": {
                "items": [{"ports": [{"port": 8443}], "endpoints": [
                    {"conditions": {"ready": index < ready}, "targetRef": {"name": f"celgate-{index}"}} for index in range(2)]}]},
        }
        for index, generation in enumerate(generations[:ready]):
            self.objects[f"/api/v1/namespaces/celgate-system/pods/https:celgate-{index}:8443/proxy/policies"] = {**POLICIES, "generation": generation}

    def get(self, path: str) -> Any:
        return copy.deepcopy(self.objects.get(path))

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.get(path)

    def list_pages(self, path: str, page_size: int = 500):
        yield [{"metadata": {"name": "default", "labels": {}}},
               {"metadata": {"name": "apps", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}]


def _config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(SHIPPED)
    for hook in config["webhooks"]:
        hook["clientConfig"]["caBundle"] = BUNDLE.ca_bundle
        hook.update(changes)
    return config


def _canary() -> CanaryResult:
    return CanaryResult(lines=[(True, "privileged Pod denied"), (True, "restricted Pod admitted")])


def _failed(checks) -> list[str]:
    return [c.line for c in checks if not c.ok]


def test_the_shipped_configuration_passes_every_check():
    checks = verify(FakeCluster(_config()), VerifyOptions(canary=_canary))  # type: ignore[arg-type]
    assert _failed(checks) == []
    lines = "\n".join(c.line for c in checks)
    assert "has 2 ready endpoint(s)" in lines and "caBundle validates" in lines and "generation equal" in lines
    (namespaces,) = [c for c in checks if "Pod Security label" in c.line]
    assert namespaces.details == ["default"]
    (listing,) = [c for c in checks if "enforces" in c.line]
    assert listing.line == "celgate enforces 2 policy bindings"
    assert [row.split() for row in listing.details] == [
        ["POLICY", "BINDING", "ACTIONS", "PARAMS"],
        ["pss-enforce", "pss-enforce", "Deny", "celgate-system/pod-security-exemptions", "(if", "missing:", "Deny)"],
        ["pss-warn", "pss-warn", "Warn", "celgate-system/pod-security-exemptions", "(if", "missing:", "Allow)"],
    ]


@pytest.mark.parametrize(("cluster", "expected"), [
    (lambda: FakeCluster(_config(), tls_crt=generate_bundle().cert_pem), "caBundle does NOT validate"),
    (lambda: FakeCluster(_config(), ready=0), "0 ready endpoint(s)"),
    (lambda: FakeCluster(_config(), generations=(3, 4)), "generation DIFFERS"),
    (lambda: FakeCluster(_config(failurePolicy="Ignore")), "failurePolicy Ignore"),
    (lambda: FakeCluster(_config(timeoutSeconds=5)), "timeoutSeconds 5"),
    (lambda: FakeCluster(_config(namespaceSelector={})), "does not exclude kube-system, celgate-system"),
    (lambda: FakeCluster(_config(sideEffects="Some")), "sideEffects Some"),
])
def test_each_misconfiguration_is_a_cross(cluster, expected):
    failed = _failed(verify(cluster(), VerifyOptions()))
    assert any(expected in line for line in failed), failed


def test_a_certificate_about_to_expire_is_a_cross():
    soon = generate_bundle(days=3)
    config = _config()
    for hook in config["webhooks"]:
        hook["clientConfig"]["caBundle"] = soon.ca_bundle
    failed = _failed(verify(FakeCluster(config, tls_crt=soon.cert_pem), VerifyOptions()))  # type: ignore[arg-type]
    assert any("rotate it" in line for line in failed), failed


def test_no_webhook_configuration_stops_the_list():
    cluster = FakeCluster(_config())
    cluster.objects.clear()
    (check,) = verify(cluster, VerifyOptions())  # type: ignore[arg-type]
    assert not check.ok and "not found" in check.line
