"""Faults of the cluster celgate watches, against a real kube-apiserver + etcd of its own.

- The API server restarts mid-run: celgate's Namespace and param watches drop. Until they are
  back celgate serves the last state it saw (no error, no change of verdict); afterwards it
  resumes watching and serves fresh namespace labels and params.
- A param ConfigMap is deleted while serving: each binding's ``parameterNotFoundAction`` applies,
  and celgate's verdict and message are kube-apiserver's own (the same policy and bindings are
  installed natively; a dry-run create asks the API server's ValidatingAdmissionPolicy plugin).

AdmissionReviews are posted to celgate directly, as the API server would; the API server's
own verdicts come from its built-in plugin. docs/failure-modes.md says what the API server sees.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from celgate_process import CelgateProcess
from controlplane import ControlPlane

pytestmark = pytest.mark.e2e

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: fault-forbidden-name}
spec:
  failurePolicy: Fail
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validations:
    - expression: "object.metadata.name != params.data.forbidden"
      messageExpression: "'the name ' + object.metadata.name + ' is forbidden'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: fault-forbidden-name-deny}
spec:
  policyName: fault-forbidden-name
  validationActions: [Deny]
  paramRef: {name: fault-params, namespace: fault-params, parameterNotFoundAction: Deny}
  matchResources:
    namespaceSelector: {matchLabels: {fault-binding: deny}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: fault-forbidden-name-allow}
spec:
  policyName: fault-forbidden-name
  validationActions: [Deny]
  paramRef: {name: fault-params, namespace: fault-params, parameterNotFoundAction: Allow}
  matchResources:
    namespaceSelector: {matchLabels: {fault-binding: allow}}
"""
NAMESPACES = {"fault-params": {}, "fault-deny": {"fault-binding": "deny"}, "fault-allow": {"fault-binding": "allow"},
              "fault-relabel": {"fault-binding": "none"}}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except (k8s.ApiException, OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g}s")


class Restartable(ControlPlane):
    """The harness's control plane, whose kube-apiserver can be killed and started again on
    the same port with the same flags and etcd (its own argv, read back from /proc)."""

    def stop_apiserver(self) -> None:
        assert self._apiserver is not None
        self._argv = Path(f"/proc/{self._apiserver.pid}/cmdline").read_bytes().split(b"\0")[:-1]
        self._apiserver.kill()  # a crash: the watches' connections die without an end of stream
        self._apiserver.wait(30)

    def start_apiserver(self) -> None:
        self._apiserver = self._spawn([arg.decode() for arg in self._argv], self.apiserver_log_path)
        error = self._wait_ready()
        assert error is None, error


@pytest.fixture(scope="module")
def plane() -> Iterator[Restartable]:
    with Restartable() as control_plane:
        yield control_plane


@pytest.fixture(scope="module")
def api(plane: Restartable) -> k8s.ApiClient:
    return k8s_config.new_client_from_config(config_file=plane.kubeconfig_path)


@pytest.fixture(scope="module")
def celgate(plane: Restartable, api: k8s.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CelgateProcess]:
    core = k8s.CoreV1Api(api)
    for name, labels in NAMESPACES.items():
        core.create_namespace({"metadata": {"name": name, "labels": labels}})
    core.create_namespaced_config_map("fault-params", {"metadata": {"name": "fault-params"}, "data": {"forbidden": "bad"}})
    admission = k8s.AdmissionregistrationV1Api(api)
    documents = list(yaml.safe_load_all(POLICY))
    admission.create_validating_admission_policy(documents[0])
    for binding in documents[1:]:
        admission.create_validating_admission_policy_binding(binding)
    workdir = tmp_path_factory.mktemp("celgate-faults")
    (workdir / "policies").mkdir()
    (workdir / "policies" / "policy.yaml").write_text(POLICY)
    process = CelgateProcess(workdir, [workdir / "policies"], plane.kubeconfig_path, workers=2,
                             extra_args=["--no-policy-reports"]).start()
    yield process
    process.stop()


def review(name: str, namespace: str) -> dict[str, Any]:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
           "spec": {"containers": [{"name": "main", "image": "celgate.invalid/noop:0"}]}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "0f0f0f0f-0000-4000-8000-000000000001", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "name": name, "namespace": namespace,
        "operation": "CREATE", "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": pod, "dryRun": True}}


def celgate_says(celgate: CelgateProcess, name: str, namespace: str) -> tuple[bool, str]:
    context = ssl.create_default_context(cafile=str(celgate.workdir / "tls" / "ca.crt"))
    with httpx.Client(verify=context, timeout=10) as client:
        answer = client.post(celgate.url, json=review(name, namespace))
    assert answer.status_code == 200, answer.text
    response = answer.json()["response"]
    return response["allowed"], (response.get("status") or {}).get("message", "")


def apiserver_says(api: k8s.ApiClient, name: str, namespace: str) -> tuple[bool, str]:
    """The API server's verdict on a dry-run create: its built-in ValidatingAdmissionPolicy
    plugin's, or (namespace fault-shed) the webhook's; a failed webhook call under failurePolicy
    Fail comes back as a 500 InternalError "failed calling webhook"."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "main", "image": "celgate.invalid/noop:0"}]}}
    try:
        k8s.CoreV1Api(api).create_namespaced_pod(namespace, pod, dry_run="All")
        return True, ""
    except k8s.ApiException as exc:
        if exc.status not in (403, 422, 500):
            raise
        return False, json.loads(exc.body)["message"]


def _native_message(message: str) -> str:
    """The API server's Status message without the ``pods "name" is forbidden: `` it puts first."""
    return message.split(" is forbidden: ", 1)[-1]


def test_the_apiserver_restarting_mid_run_serves_the_last_state_then_fresh_labels_and_params(
        plane: Restartable, api: k8s.ApiClient, celgate: CelgateProcess) -> None:
    core = k8s.CoreV1Api(api)
    # Each worker lists on its own and /readyz may come from either: every worker must have
    # synced (a run of right answers on fresh connections) before the watches are cut.
    streak, deadline = 0, time.monotonic() + 30
    while streak < 12:
        assert time.monotonic() < deadline, "celgate's workers never agreed on the first state"
        right = (celgate_says(celgate, "bad", "fault-deny")[0] is False
                 and celgate_says(celgate, "bad", "fault-relabel")[0] is True)  # no binding selects it yet
        streak = streak + 1 if right else 0

    plane.stop_apiserver()
    try:
        down = time.monotonic()
        answers, messages = [], set()
        while time.monotonic() - down < 5:  # the watches are down: the last known state serves
            deny, relabel = celgate_says(celgate, "bad", "fault-deny"), celgate_says(celgate, "bad", "fault-relabel")
            answers.append((deny[0], relabel[0]))
            messages |= {deny[1], relabel[1]}
            time.sleep(0.1)
        assert set(answers) == {(False, True)}, (answers, messages)
        with urllib.request.urlopen(f"http://127.0.0.1:{celgate.metrics_port}/readyz", timeout=5) as ready:
            assert ready.status == 200  # readiness is about the first sync, not about the API server staying up
    finally:
        plane.start_apiserver()
    restarted = time.monotonic()

    # Fresh state after the restart reaches celgate through the resumed watches.
    core.patch_namespace("fault-relabel", {"metadata": {"labels": {"fault-binding": "deny"}}})
    labels_after = wait_for(lambda: celgate_says(celgate, "bad", "fault-relabel")[0] is False,
                            "celgate saw the namespace relabelled after the restart", 90)
    core.patch_namespaced_config_map("fault-params", "fault-params", {"data": {"forbidden": "worse"}})
    params_after = wait_for(lambda: celgate_says(celgate, "worse", "fault-deny")[0] is False,
                            "celgate saw the param changed after the restart", 90)
    assert celgate_says(celgate, "bad", "fault-deny")[0] is True
    assert apiserver_says(api, "worse", "fault-deny")[0] is False
    print(f"apiserver restart: {len(answers)} answers while it was down, all from the last state; after "
          f"{time.monotonic() - restarted:.1f}s celgate served the new label ({labels_after:.1f}s after the "
          f"patch) and the new param ({params_after:.1f}s)")
    core.patch_namespaced_config_map("fault-params", "fault-params", {"data": {"forbidden": "bad"}})
    core.patch_namespace("fault-relabel", {"metadata": {"labels": {"fault-binding": "none"}}})
    wait_for(lambda: celgate_says(celgate, "bad", "fault-deny")[0] is False
             and celgate_says(celgate, "bad", "fault-relabel")[0] is True, "back to the first state")


def test_a_deleted_param_follows_parameter_not_found_action_exactly_as_the_apiserver(
        api: k8s.ApiClient, celgate: CelgateProcess) -> None:
    core = k8s.CoreV1Api(api)
    wait_for(lambda: apiserver_says(api, "bad", "fault-deny")[0] is False, "the native policy is in force")
    for namespace in ("fault-deny", "fault-allow"):
        assert celgate_says(celgate, "bad", namespace)[0] is False
        assert celgate_says(celgate, "good", namespace)[0] is True

    core.delete_namespaced_config_map("fault-params", "fault-params")
    try:
        # Deny: every request the binding matches is denied, with kube-apiserver's message.
        wait_for(lambda: not apiserver_says(api, "good", "fault-deny")[0], "the API server lost the param")
        wait_for(lambda: not celgate_says(celgate, "good", "fault-deny")[0], "celgate lost the param")
        for name in ("good", "bad"):
            native, ours = apiserver_says(api, name, "fault-deny"), celgate_says(celgate, name, "fault-deny")
            assert native[0] is ours[0] is False
            assert _native_message(native[1]) == ours[1], (native, ours)
            assert "no params found" in ours[1]
        # Allow: the binding is skipped, so even the forbidden name is admitted.
        for name in ("good", "bad"):
            assert apiserver_says(api, name, "fault-allow")[0] is True
            assert celgate_says(celgate, name, "fault-allow")[0] is True
    finally:
        core.create_namespaced_config_map("fault-params", {"metadata": {"name": "fault-params"},
                                                           "data": {"forbidden": "bad"}})
    wait_for(lambda: celgate_says(celgate, "good", "fault-deny")[0] and not celgate_says(celgate, "bad", "fault-deny")[0],
             "celgate saw the param come back")
    native, ours = apiserver_says(api, "bad", "fault-deny"), celgate_says(celgate, "bad", "fault-deny")
    assert native[0] is ours[0] is False and _native_message(native[1]) == ours[1], (native, ours)



class HeldRequest:
    """A request to celgate whose body's second half waits for ``release()``: in flight until then."""

    def __init__(self, celgate: CelgateProcess, body: bytes) -> None:
        import threading

        self._release = threading.Event()
        self.status: int | None = None

        def chunks() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            self._release.wait(60)
            yield body[len(body) // 2:]

        def run() -> None:
            context = ssl.create_default_context(cafile=str(celgate.workdir / "tls" / "ca.crt"))
            with httpx.Client(verify=context, timeout=60) as client:
                self.status = client.post(celgate.url, content=chunks(),
                                          headers={"Content-Type": "application/json"}).status_code

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def release(self) -> None:
        self._release.set()
        self.thread.join(30)


def _shed_total(celgate: CelgateProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{celgate.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("celgate_admission_requests_shed_total"))


@pytest.fixture(scope="module")
def saturated(plane: Restartable, api: k8s.ApiClient, celgate: CelgateProcess,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[CelgateProcess]:
    """A celgate that admits one request at a time, registered as the webhook for namespace fault-shed."""
    k8s.CoreV1Api(api).create_namespace({"metadata": {"name": "fault-shed", "labels": {"fault-shed": "true"}}})
    workdir = tmp_path_factory.mktemp("celgate-shed")
    (workdir / "policies").mkdir()
    (workdir / "policies" / "policy.yaml").write_text(POLICY)
    process = CelgateProcess(workdir, [workdir / "policies"], plane.kubeconfig_path, workers=1,
                             extra_args=["--no-policy-reports", "--max-in-flight", "1", "--body-timeout", "60"]).start()
    k8s.AdmissionregistrationV1Api(api).create_validating_webhook_configuration({
        "metadata": {"name": "fault-shed"},
        "webhooks": [{
            "name": "shed.faults.celgate.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 6,
            "clientConfig": {"url": process.url, "caBundle": process.ca_bundle},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
            "namespaceSelector": {"matchLabels": {"fault-shed": "true"}},
        }],
    })
    yield process
    k8s.AdmissionregistrationV1Api(api).delete_validating_webhook_configuration("fault-shed")
    process.stop()


def test_the_apiserver_retries_a_shed_call_after_retry_after_then_applies_failure_policy(
        api: k8s.ApiClient, saturated: CelgateProcess) -> None:
    wait_for(lambda: apiserver_says(api, "good", "fault-shed")[0], "the webhook is called and admits", 30)
    body = json.dumps(review("good", "fault-shed")).encode()

    # Shed for ≈2.5 s, then room: the API server's retries (Retry-After: 1) get the call through.
    held = HeldRequest(saturated, body)
    time.sleep(1.0)
    shed_before = _shed_total(saturated)
    import threading

    outcome: list[tuple[bool, str]] = []
    started = time.monotonic()
    create = threading.Thread(target=lambda: outcome.append(apiserver_says(api, "good", "fault-shed")))
    create.start()
    time.sleep(2.5)
    held.release()
    create.join(20)
    retried = _shed_total(saturated) - shed_before
    took = time.monotonic() - started
    assert held.status == 200
    assert outcome and outcome[0][0] is True, outcome
    assert retried >= 2 and took >= 2.0, (retried, took)

    # Shed for longer than timeoutSeconds (6): the call fails and failurePolicy Fail rejects the create.
    held = HeldRequest(saturated, body)
    time.sleep(1.0)
    shed_before = _shed_total(saturated)
    started = time.monotonic()
    allowed, message = apiserver_says(api, "good", "fault-shed")
    failed_after = time.monotonic() - started
    held.release()
    attempts = _shed_total(saturated) - shed_before
    print(f"429 + Retry-After: 1 — shed {retried:.0f} times then admitted after {took:.1f}s; shed throughout: "
          f"{attempts:.0f} attempts, rejected after {failed_after:.1f}s: {message}")
    assert allowed is False
    assert "failed calling webhook" in message and "shed.faults.celgate.io" in message
    assert attempts >= 3
    assert failed_after < 8.0
