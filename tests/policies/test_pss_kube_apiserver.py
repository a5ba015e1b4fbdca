"""The PSS policies in a real kube-apiserver v1.35, side by side with its built-in Pod Security Admission.

kube-apiserver must accept (compile with cel-go) every policy and binding. Then every fixture
of every corpus version is created (dry run) in a namespace labelled
``pod-security.kubernetes.io/warn=<level>`` and ``warn-version=<version>``: PSA warns ("would
violate PodSecurity ...") and our Warn binding warns. Both must warn on the same Pods, and our
message (after the VAP plugin's prefix) must be PSA's, word for word.

An e2e test (``pytest -m e2e tests/policies``): it starts etcd and kube-apiserver from
$CELGATE_CONTROLPLANE_BIN or tests/e2e/build-controlplane.sh.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from pss_admission import FIXTURES, POD_SECURITY, REPO, load_tool

pytestmark = pytest.mark.e2e

TOOL = load_tool()
POLICY_API = "/apis/admissionregistration.k8s.io/v1"


def _controlplane_module():
    path = REPO / "tests" / "e2e" / "controlplane.py"
    spec = importlib.util.spec_from_file_location("controlplane", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault("controlplane", importlib.util.module_from_spec(spec))
    if not hasattr(module, "ControlPlane"):
        spec.loader.exec_module(module)
    return module


class Api:
    """Just enough of the API: JSON in, (status, body, Warning headers) out."""

    def __init__(self, control_plane: Any) -> None:
        self.url = control_plane.server_url
        self.context = control_plane.ssl_context()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict, list[str]]:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}"), response.headers.get_all("Warning") or []
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}"), error.headers.get_all("Warning") or []


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    controlplane = _controlplane_module()
    with controlplane.ControlPlane() as control_plane:
        yield Api(control_plane)


@pytest.fixture(scope="module")
def installed(api: Api) -> list[dict]:
    """The exemptions ConfigMap (and its namespace), every policy and binding, created; returns
    the creation failures."""
    failures = []
    api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "celgate-system"}})
    for path in sorted(POD_SECURITY.glob("*.yaml")):
        for doc in (d for d in yaml.safe_load_all(path.read_text()) if d):
            if doc["kind"] == "ConfigMap":
                url = f"/api/v1/namespaces/{doc['metadata']['namespace']}/configmaps"
            else:
                plural = "validatingadmissionpolicies" if doc["kind"] == "ValidatingAdmissionPolicy" else "validatingadmissionpolicybindings"
                url = f"{POLICY_API}/{plural}"
            code, body, _ = api.call("POST", url, doc)
            if code != 201:
                failures.append({"name": doc["metadata"]["name"], "code": code, "message": body.get("message")})
    return failures


def _namespace(level: str, version: str) -> str:
    return f"warn-{level}-{version.replace('.', '-')}"


@pytest.fixture(scope="module")
def warn_namespaces(api: Api, installed: list[dict]) -> None:
    """A namespace labelled pod-security.kubernetes.io/warn=<level>, warn-version=<version> for
    every level and version of the corpus."""
    for level in TOOL.LEVELS:
        for version in TOOL.versions_in(TOOL.corpus_root()):
            api.call("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": _namespace(level, version), "labels": {
                    "pod-security.kubernetes.io/warn": level, "pod-security.kubernetes.io/warn-version": version}},
            })
    time.sleep(2)  # bindings and the ConfigMap reach the admission plugin asynchronously


def test_kube_apiserver_accepts_every_policy_and_binding(api, installed):
    # Creation compiles every expression with cel-go. (Type-checking warnings land in status through
    # kube-controller-manager, which this control plane does not run.)
    assert installed == []
    _, body, _ = api.call("GET", f"{POLICY_API}/validatingadmissionpolicies")
    assert sorted(item["metadata"]["name"] for item in body["items"]) == ["pss-audit", "pss-enforce", "pss-warn"]


def _message(warning: str) -> str:
    """The text of a Warning header: 299 - "<text>", with Go's quoting undone."""
    text = re.sub(r'^299 - "(.*)"$', r"\1", warning)
    return text.replace('\\"', '"').replace("\\\\", "\\")


def _split(warnings: list[str]) -> tuple[list[str], list[str]]:
    """(PSA's warnings, ours without the VAP plugin's prefix)."""
    texts = [_message(w) for w in warnings]
    psa = [w for w in texts if w.startswith("would violate PodSecurity")]
    ours = [w.split("': ", 1)[1] for w in texts if w.startswith("Validation failed for ValidatingAdmissionPolicy")]
    return psa, ours


def test_warn_binding_gives_pod_security_admission_message_at_every_version(api, installed, warn_namespaces):
    assert installed == []
    root = TOOL.corpus_root()
    disagreements, compared = [], 0
    for case in TOOL.read_cases(root):
        pod = yaml.safe_load((Path(root) / case.path).read_text())
        pod["metadata"]["name"] = re.sub(r"[^a-z0-9-]", "-", pod["metadata"]["name"])
        code, _, warnings = api.call("POST", f"/api/v1/namespaces/{_namespace(case.level, case.version)}/pods?dryRun=All", pod)
        if code != 201:
            continue  # rejected by API validation before admission (e.g. procMount Unmasked without userns)
        compared += 1
        psa, ours = _split(warnings)
        if psa != ours:
            disagreements.append((case.path, psa, ours))
    assert compared >= 4000
    assert disagreements == []


@pytest.mark.parametrize(
    ("fixture", "group_version", "plural"),
    [("privileged-deployment.yaml", "apis/apps/v1", "deployments"),
     ("privileged-cronjob.yaml", "apis/batch/v1", "cronjobs")],
)
def test_workload_templates_are_warned_about_as_pod_security_admission_does(api, warn_namespaces, fixture, group_version, plural):
    workload = yaml.safe_load((FIXTURES / fixture).read_text())

    code, _, warnings = api.call(
        "POST", f"/{group_version}/namespaces/{_namespace('baseline', TOOL.LATEST)}/{plural}?dryRun=All", workload
    )

    assert code == 201
    psa, ours = _split(warnings)
    assert len(psa) == 1 and ours == psa
