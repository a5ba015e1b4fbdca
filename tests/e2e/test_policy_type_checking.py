"""The shipped policies type-check cleanly against the real schemas.

kube-controller-manager's validatingadmissionpolicy-status-controller type-checks every
ValidatingAdmissionPolicy against the OpenAPI schemas of the resources it matches and records
problems in ``status.typeChecking.expressionWarnings``. The shipped Pod Security policies must
have none; a deliberately misspelt field must have one (so the check is known to be live).
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from controlplane import find_binaries

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SUFFIX = f"-tc-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def status_controller(cluster) -> Iterator[None]:
    if cluster.control_plane is None:
        pytest.skip("an external cluster runs its own kube-controller-manager")
    binary = find_binaries() / "kube-controller-manager"
    if not binary.exists():
        pytest.skip("kube-controller-manager was not built")
    with tempfile.TemporaryDirectory() as cert_dir, open(Path(cert_dir) / "kcm.log", "w") as log:
        process = subprocess.Popen(
            [str(binary), f"--kubeconfig={cluster.kubeconfig}", "--controllers=validatingadmissionpolicy-status-controller",
             "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0", f"--cert-dir={cert_dir}",
             "--use-service-account-credentials=false"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def shipped_policies() -> list[dict[str, Any]]:
    policies = []
    for path in sorted((REPO / "policies").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "ValidatingAdmissionPolicy":
                renamed = copy.deepcopy(document)
                renamed["metadata"]["name"] += SUFFIX
                policies.append(renamed)
    return policies


def _warnings_of(cluster, policies: list[dict[str, Any]], timeout: float = 120) -> dict[str, list[str]]:
    base = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
    for policy in policies:
        cluster.kube.must("POST", base, policy)
    found: dict[str, list[str]] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(found) < len(policies) and time.monotonic() < deadline:
            for policy in policies:
                name = policy["metadata"]["name"]
                if name in found:
                    continue
                current = cluster.kube.must("GET", f"{base}/{name}")
                status = current.get("status") or {}
                if status.get("observedGeneration") == current["metadata"]["generation"] and "typeChecking" in status:
                    found[name] = [f"{w['fieldRef']}: {w['warning']}" for w in status["typeChecking"].get("expressionWarnings") or []]
            time.sleep(0.5)
    finally:
        for policy in policies:
            cluster.kube.request("DELETE", f"{base}/{policy['metadata']['name']}")
    missing = [p["metadata"]["name"] for p in policies if p["metadata"]["name"] not in found]
    assert not missing, f"no type-checking status within {timeout} s for {missing}"
    return found


def test_the_shipped_policies_have_no_type_checking_warnings(cluster, status_controller) -> None:
    warnings = _warnings_of(cluster, shipped_policies())
    assert {name: w for name, w in warnings.items() if w} == {}
    assert len(warnings) == 3  # pss-enforce, pss-warn, pss-audit


def test_a_misspelt_field_is_warned_about(cluster, status_controller) -> None:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": f"misspelt{SUFFIX}"},
        "spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "operations": ["CREATE"], "resources": ["pods"]}]},
            "validations": [{"expression": "object.spec.containerz.size() > 0"}],
        },
    }
    warnings = _warnings_of(cluster, [policy])
    assert any("containerz" in w for w in warnings[policy["metadata"]["name"]])
