"""Objects and constants the e2e tests build requests from."""

from __future__ import annotations

from typing import Any

from registration import REPO

SHIPPED_POLICIES = REPO / "policies"
E2E_POLICIES = REPO / "tests" / "e2e" / "policies"
WEBHOOK_PREFIX = 'admission webhook "validate.celgate.io" denied the request: '
NOOP_IMAGE = "celgate.invalid/noop:0"  # never pulled: there is no kubelet, or the dry run stores nothing


def pod(name: str, *, privileged: bool = False, restricted: bool = False, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": NOOP_IMAGE}
    if privileged:
        container["securityContext"] = {"privileged": True}
    if restricted:
        container["securityContext"] = {
            "allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], **spec}}


def psa_labels(level: str, *modes: str) -> dict[str, str]:
    return {f"pod-security.kubernetes.io/{mode}": level for mode in modes}
