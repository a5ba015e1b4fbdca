"""Monitoring and compliance on a real API server (issue 12's acceptance): the VAP-shaped check
metrics, admission-time PolicyReports validated by the installed wgpolicyk8s.io CRD, a scan
that finds a Pod created before its policy applied, the canary passing and then failing when
the webhook configuration goes, ``celgate verify`` and a wrong caBundle, and the shipped audit
Policy recording a denied Pod with celgate's annotations.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane import free_port
from e2e_objects import SHIPPED_POLICIES, WEBHOOK_PREFIX, pod, psa_labels
from registration import MODE_LABEL, REPO, SUITE_LABEL, install_native, nativize, read_policy_documents, uninstall

from webhook.certs import generate_bundle

pytestmark = pytest.mark.e2e

CRDS = REPO / "manifests" / "policy-reports"
REPORTS = "/apis/wgpolicyk8s.io/v1alpha2"
CHECK = "celgate_validating_admission_policy_check_total"
MODES = {"deny": "enforce", "warn": "warn", "audit": "audit"}  # enforcement action -> its policy, pss-<mode>
PRIVILEGED = 'privileged (container "main" must not set securityContext.privileged=true)'


def celgate(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "webhook.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def _eventually(probe, what: str, timeout: float = 30.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels = re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[len(name):line.rindex("}")])
            found[tuple(sorted(labels))] = float(line.rsplit(" ", 1)[1])
    return found


def _sample(text: str, name: str, labels: dict[str, str]) -> float:
    for found, value in _series(text, name).items():
        if all(dict(found).get(k) == v for k, v in labels.items()):
            return value
    return 0.0


def _delta(before: str, after: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    old = _series(before, name)
    return {k: v - old.get(k, 0) for k, v in _series(after, name).items() if v - old.get(k, 0)}


@pytest.fixture(scope="module")
def policy_report_crds(cluster):
    for path in sorted(CRDS.glob("wgpolicyk8s.io_*.yaml")):
        (crd,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        cluster.kube.apply(crd)
    for plural in ("policyreports", "clusterpolicyreports"):
        _eventually(lambda: cluster.kube.request("GET", f"{REPORTS}/{plural}").allowed, f"{plural} served")


def test_metrics_count_checks_per_policy_binding_and_enforcement_action(cluster, webhook, namespace):
    if webhook.process is None:
        pytest.skip("celgate runs in the cluster: its /metrics is not reachable from here")
    url = f"http://127.0.0.1:{webhook.process.metrics_port}/metrics"
    ns = namespace(labels=psa_labels("baseline", "enforce", "warn", "audit"))
    before_text = _metrics(url)
    for index in range(3):
        outcome = cluster.kube.create(pod(f"privileged-{index}", privileged=True), ns)
        assert not outcome.allowed and outcome.message.startswith(WEBHOOK_PREFIX)
        assert outcome.message.endswith(f'violates PodSecurity "baseline:latest": {PRIVILEGED}')
    denied_text = _metrics(url)
    for index in range(2):
        assert cluster.kube.create(pod(f"fine-{index}"), ns).allowed
    after_text = _metrics(url)
    # One series per mode's policy and binding, whatever check failed: the check is in the message.
    expected = {tuple(sorted({"policy": f"pss-{mode}", "policy_binding": f"pss-{mode}", "error_type": "invalid_error",
                              "enforcement_action": action}.items())): 3.0 for action, mode in MODES.items()}
    assert _delta(before_text, denied_text, CHECK) == expected
    # passing validations are not counted (as kube-apiserver): the compliant Pods moved no series
    assert _delta(denied_text, after_text, CHECK) == {}
    assert "celgate_admission_requests_in_flight" in after_text


def test_the_check_series_have_the_apiservers_labels_and_values(cluster, webhook, namespace):
    """The same Pods through the built-in plugin and through celgate move the same series."""
    if webhook.process is None:
        pytest.skip("celgate runs in the cluster: its /metrics is not reachable from here")
    policies = {f"pss-{mode}" for mode in MODES.values()}
    # the three Pod Security policies, their bindings and the exemptions ConfigMap they all read
    documents = read_policy_documents([SHIPPED_POLICIES])
    assert {d["metadata"]["name"] for d in documents if d["kind"] == "ValidatingAdmissionPolicy"} == policies
    assert any(d["kind"] == "ConfigMap" and d["metadata"]["name"] == "pod-security-exemptions" for d in documents)
    probe_ns = cluster.create_namespace("native", prefix="metrics-probe")
    installed = install_native(cluster.kube, nativize(documents), probe_ns)
    labels = psa_labels("baseline", "enforce", "warn", "audit")
    native_ns, webhook_ns = namespace("native", labels), namespace("webhook", labels)

    def series(text: str, prefix: str) -> dict[tuple[str, ...], float]:
        found = {}
        for line in text.splitlines():
            if line.startswith(f"{prefix}_validating_admission_policy_check_total{{"):
                pairs = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[:line.rindex("}")]))
                if pairs.get("policy") in policies:
                    found[tuple(sorted(pairs.items()))] = float(line.rsplit(" ", 1)[1])
        return found

    def scrape() -> tuple[dict, dict]:
        native = cluster.kube.api.rest_client.pool_manager.request(
            "GET", cluster.kube.api.configuration.host + "/metrics").data.decode()
        return series(native, "apiserver"), series(_metrics(f"http://127.0.0.1:{webhook.process.metrics_port}/metrics"), "celgate")

    try:
        native_before, celgate_before = scrape()
        for index in range(2):
            assert not cluster.kube.create(pod(f"privileged-{index}", privileged=True), native_ns).allowed
            assert not cluster.kube.create(pod(f"privileged-{index}", privileged=True), webhook_ns).allowed
        native_after, celgate_after = scrape()
    finally:
        uninstall(cluster.kube, installed)
    native_delta = {k: v - native_before.get(k, 0) for k, v in native_after.items() if v - native_before.get(k, 0)}
    celgate_delta = {k: v - celgate_before.get(k, 0) for k, v in celgate_after.items() if v - celgate_before.get(k, 0)}
    assert native_delta, "the API server recorded no check for the native Pods"
    assert celgate_delta == native_delta
    assert sorted((dict(k)["policy"], dict(k)["enforcement_action"], v) for k, v in celgate_delta.items()) == [
        ("pss-audit", "audit", 2.0), ("pss-enforce", "deny", 2.0), ("pss-warn", "warn", 2.0)]


def test_a_warn_binding_produces_a_policy_report_the_installed_crd_accepts(cluster, webhook, namespace, policy_report_crds):
    if webhook.process is None:
        pytest.skip("needs the local celgate (its --policy-report-interval 1)")
    ns = namespace(labels=psa_labels("baseline", "warn"))
    outcome = cluster.kube.create(pod("host-network", hostNetwork=True), ns)
    assert outcome.allowed and outcome.warnings

    def report() -> dict[str, Any] | None:
        got = cluster.kube.request("GET", f"{REPORTS}/namespaces/{ns}/policyreports/celgate-admission")
        return got.body if got.allowed else None

    stored = _eventually(report, "PolicyReport celgate-admission", timeout=30)
    (result,) = [r for r in stored["results"] if r["policy"] == "pss-warn"]
    assert result["result"] == "warn" and result["rule"] == "pss-warn"
    assert result["properties"]["enforcementAction"] == "warn"
    assert result["resources"][0]["name"] == "host-network"
    assert result["message"] == 'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'
    assert stored["summary"]["warn"] >= 1
    # Strict field validation: the apiserver rejects any field its v1alpha2 schema does not know.
    copy = {k: stored[k] for k in ("apiVersion", "kind", "results", "summary")}
    copy["metadata"] = {"name": "strict-copy", "namespace": ns}
    strict = cluster.kube.request("POST", f"{REPORTS}/namespaces/{ns}/policyreports?dryRun=All&fieldValidation=Strict", copy)
    assert strict.allowed, strict.body
    # Written again (a retried request, a restarted webhook): replaced, not duplicated.
    assert cluster.kube.create(pod("host-network-2", hostNetwork=True), ns).allowed
    _eventually(lambda: (r := report()) and any(x["resources"][0]["name"] == "host-network-2" for x in r["results"]),
                "the second result")
    names = [r["resources"][0]["name"] for r in report()["results"] if r["policy"] == "pss-warn"]
    assert sorted(names) == ["host-network", "host-network-2"]


def test_scan_finds_a_violating_pod_that_predates_its_policy(cluster, webhook, namespace, policy_report_crds):
    ns = namespace()  # no Pod Security label yet: no binding selects it, the privileged Pod is admitted
    assert cluster.kube.create(pod("old-privileged", privileged=True), ns).allowed
    assert cluster.kube.create(pod("compliant"), ns).allowed
    cluster.kube.must("PATCH", f"/api/v1/namespaces/{ns}", {"metadata": {"labels": psa_labels("baseline", "enforce")}},
                      content_type="application/merge-patch+json")
    scanned = celgate("scan", "--kubeconfig", cluster.kubeconfig, "--policies", str(SHIPPED_POLICIES),
                      "--namespace", ns, "--apply", "--output", "json")
    assert scanned.returncode == 1, scanned.stderr
    verdicts = {(r["kind"], r["name"]): r for r in json.loads(scanned.stdout)["results"] if r["namespace"] == ns}
    assert verdicts[("Pod", "old-privileged")]["allowed"] is False
    assert verdicts[("Pod", "old-privileged")]["status"]["message"].endswith(f'violates PodSecurity "baseline:latest": {PRIVILEGED}')
    assert verdicts[("Pod", "compliant")]["allowed"] is True
    report = cluster.kube.must("GET", f"{REPORTS}/namespaces/{ns}/policyreports/celgate-scan")
    failing = [r for r in report["results"] if r["result"] == "fail"]
    assert {(r["policy"], r["rule"], r["resources"][0]["name"]) for r in failing} == {("pss-enforce", "pss-enforce", "old-privileged")}
    assert failing[0]["message"] == f'violates PodSecurity "baseline:latest": {PRIVILEGED}'
    assert failing[0]["resources"][0]["uid"]  # the stored object, by uid

    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "webhook.cli", "scan", "--serve", "--kubeconfig", cluster.kubeconfig, "--policies",
         str(SHIPPED_POLICIES), "--namespace", ns, "--metrics-host", "127.0.0.1", "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        def gauge() -> float:
            try:
                text = _metrics(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return 0.0
            return _sample(text, "celgate_scan_violations",
                           {"policy": "pss-enforce", "namespace": ns, "enforcement_action": "deny"})
        assert _eventually(gauge, "celgate_scan_violations", timeout=60) == 1.0
        text = _metrics(f"http://127.0.0.1:{port}/metrics")
        assert _sample(text, "celgate_scan_objects", {"resource": "pods"}) >= 2
        assert "celgate_scan_last_success_timestamp_seconds" in text
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)


def _canary(cluster, ns: str, mode: str, textfile: Path) -> subprocess.CompletedProcess[str]:
    return celgate("canary", "--kubeconfig", cluster.kubeconfig, "--canary-namespace", ns,
                   "--canary-namespace-label", f"{MODE_LABEL}={mode}", "--canary-namespace-label", f"{SUITE_LABEL}=true",
                   "--textfile", str(textfile))


def test_the_canary_passes_then_fails_when_the_webhook_configuration_is_removed(cluster, webhook, tmp_path):
    name = "celgate-e2e-canary"
    webhook.register(name=name, mode="canary")  # its own configuration, so removing it harms no other test
    ns = f"canary-{uuid.uuid4().hex[:8]}"
    cluster.namespaces.append(ns)
    textfile = tmp_path / "canary.prom"
    try:
        passed = _eventually(lambda: (r := _canary(cluster, ns, "canary", textfile)).returncode == 0 and r,
                             "the canary to pass", timeout=30, interval=1)
        assert "✓ privileged Pod denied by validate.celgate.io" in passed.stdout
        assert re.search(r"^celgate_canary_success 1\.0$", textfile.read_text(), re.M)
    finally:
        cluster.kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", name)
    failed = _eventually(lambda: (r := _canary(cluster, ns, "canary", textfile)).returncode == 1 and r,
                         "the canary to fail", timeout=30, interval=1)
    assert "✗ privileged Pod was ADMITTED" in failed.stdout
    assert re.search(r"^celgate_canary_success 0\.0$", textfile.read_text(), re.M)
    assert "celgate_canary_last_success_timestamp_seconds" not in textfile.read_text()


def test_verify_passes_on_the_install_and_catches_a_wrong_ca_bundle(cluster, webhook):
    ns = f"canary-{uuid.uuid4().hex[:8]}"
    cluster.namespaces.append(ns)
    config = webhook.register().get("metadata", {}).get("name")
    # the suite's certificate lives two days
    verified = celgate("verify", "--kubeconfig", cluster.kubeconfig, "--webhook-config", config, "--min-certificate-days", "1",
                       "--canary-namespace", ns, "--canary-namespace-label", f"{MODE_LABEL}=webhook",
                       "--canary-namespace-label", f"{SUITE_LABEL}=true")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for line in ("✓ ValidatingWebhookConfiguration", "✓ caBundle validates the serving certificate",
                 "✓ validate.celgate.io: failurePolicy Fail", "policy generation equal",
                 "✓ canary: privileged Pod denied", "namespaces carry no Pod Security label"):
        assert line in verified.stdout, verified.stdout
    assert re.search(r"^ +pss-enforce +pss-enforce +Deny +celgate-system/pod-security-exemptions \(if missing: Deny\)$",
                     verified.stdout, re.M), verified.stdout
    assert "✗" not in verified.stdout

    wrong = generate_bundle(ip_addresses=["127.0.0.1"], days=2).ca_bundle  # another CA altogether
    bad_name = "celgate-e2e-wrong-ca"
    bad_client = {**webhook.client_config, "caBundle": wrong}
    webhook.register(name=bad_name, client_config=bad_client, mode="nothing-selects-this")
    try:
        bad = celgate("verify", "--kubeconfig", cluster.kubeconfig, "--webhook-config", bad_name, "--no-canary",
                      "--min-certificate-days", "1")
    finally:
        cluster.kube.delete("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", bad_name)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "✗ caBundle does NOT validate the serving certificate" in bad.stdout
    assert base64.b64decode(wrong)  # a real PEM bundle, not an empty one


def test_the_shipped_audit_policy_records_a_denied_pod_with_celgate_annotations(cluster, webhook, namespace):
    if not cluster.local:
        pytest.skip("the API server here was not started with manifests/audit/audit-policy.yaml")
    ns = namespace(labels=psa_labels("baseline", "enforce", "audit"))
    outcome = cluster.kube.create(pod("denied-privileged", privileged=True), ns)
    assert not outcome.allowed and outcome.message.startswith(WEBHOOK_PREFIX)
    cluster.kube.must("POST", f"/api/v1/namespaces/{ns}/secrets",
                      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}})

    def event(name: str, resource: str) -> dict[str, Any] | None:
        for item in reversed(cluster.audit_events()):
            ref = item.get("objectRef") or {}
            if (ref.get("namespace"), ref.get("name") or (item.get("requestObject") or {}).get("metadata", {}).get("name"),
                    ref.get("resource"), item.get("stage"), item.get("verb")) == (ns, name, resource, "ResponseComplete", "create"):
                return item
        return None

    denied = _eventually(lambda: event("denied-privileged", "pods"), "the denied Pod's audit event", timeout=15)
    assert denied["level"] == "RequestResponse" and denied["responseStatus"]["code"] >= 400
    assert denied["requestObject"]["spec"]["containers"][0]["securityContext"]["privileged"] is True
    celgate_annotations = {k: v for k, v in (denied.get("annotations") or {}).items() if k.startswith("validate.celgate.io/")}
    assert celgate_annotations, sorted(denied.get("annotations") or {})
    failures = [entry for key, value in celgate_annotations.items() if key.endswith("validation_failure")
                for entry in json.loads(value)]
    assert {(f["policy"], f["binding"], f["message"]) for f in failures} == {
        ("pss-audit", "pss-audit", f'would violate PodSecurity "baseline:latest": {PRIVILEGED}')}
    secret = _eventually(lambda: event("s", "secrets"), "the Secret's audit event", timeout=15)
    assert secret["level"] == "Metadata" and "requestObject" not in secret and "c2VjcmV0" not in json.dumps(secret)
