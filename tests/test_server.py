"""The real webhook over real TLS: ``celgate serve`` as a process, an HTTPS client, real files."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.server_process import ServerProcess
from webhook.certs import generate_bundle, generate_ca, issue_certificate, write_bundle

FIXTURES = Path(__file__).parent / "fixtures" / "server"
POLICIES = FIXTURES / "policies"
NAMESPACE_ARGS = ["--namespace-labels", "secure=enforce=true", "--namespace-labels", "open=tier=dev"]


def pod(name: str = "web", namespace: str = "secure", privileged: bool = False, labels: dict | None = None) -> dict:
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels if labels is not None else {"team": "a"}},
        "spec": {"containers": [container]},
    }


def review(obj: dict, uid: str = "2b6a9e16-0000-4000-8000-000000000001", operation: str = "CREATE") -> dict:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": obj["kind"]},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"].get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": obj,
            "dryRun": False,
        },
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("server")
    policies = tmp / "policies"
    shutil.copytree(POLICIES, policies)
    process = ServerProcess.with_certs(
        tmp, ["--policies", str(policies), *NAMESPACE_ARGS, "--workers", "1", "--max-body-bytes", "200000",
              "--body-timeout", "1", "--reload-interval", "0.2"],
    )
    with process:
        yield process


def post(server: ServerProcess, document: Any, **kwargs: Any) -> httpx.Response:
    with server.client() as client:
        return client.post("/validate", json=document, **kwargs)


def test_a_compliant_pod_is_allowed(server: ServerProcess) -> None:
    answer = post(server, review(pod()))
    assert answer.status_code == 200
    assert answer.json()["response"] == {"uid": "2b6a9e16-0000-4000-8000-000000000001", "allowed": True}


def test_a_privileged_pod_is_denied_with_the_same_message_as_celgate_test(server: ServerProcess) -> None:
    manifest = yaml.safe_load((FIXTURES / "privileged-pod.yaml").read_text())
    response = post(server, review(manifest)).json()["response"]
    cli = subprocess.run(
        [sys.executable, "-m", "webhook.cli", "test", "--policies", str(POLICIES), *NAMESPACE_ARGS,
         "--output", "json", str(FIXTURES / "privileged-pod.yaml")],
        capture_output=True, text=True, check=False,
    )
    assert cli.returncode == 1, cli.stderr
    result = json.loads(cli.stdout)["results"][0]
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["reason"] == "Forbidden"
    assert response["status"]["message"] == (
        "ValidatingAdmissionPolicy 'no-privileged' with binding 'no-privileged-enforce' denied request: "
        "privileged containers are not allowed: shell"
    )
    assert response["status"]["message"] == result["status"]["message"]
    assert response["status"]["code"] == result["status"]["code"]


def test_the_same_pod_in_an_unselected_namespace_is_allowed(server: ServerProcess) -> None:
    response = post(server, review(pod(namespace="open", privileged=True))).json()["response"]
    assert response["allowed"] is True


def test_a_warn_binding_returns_a_warning_and_an_audit_annotation(server: ServerProcess) -> None:
    response = post(server, review(pod(labels={}))).json()["response"]
    assert response["allowed"] is True
    assert response["warnings"] == [
        "Validation failed for ValidatingAdmissionPolicy 'team-label' with binding 'team-label-warn': "
        "pods should carry a team label"
    ]
    failures = json.loads(response["auditAnnotations"]["validation.policy.admission.k8s.io_validation_failure"])
    assert failures[0]["policy"] == "team-label"
    assert failures[0]["binding"] == "team-label-warn"
    assert failures[0]["validationActions"] == ["Warn", "Audit"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "request body is not valid JSON"),
        (json.dumps({"apiVersion": "v1", "kind": "Pod"}).encode(), {"content-type": "application/json"}, 400,
         "expected apiVersion 'admission.k8s.io/v1' and kind 'AdmissionReview'"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
         {"content-type": "application/json"}, 400, "request: required field is missing"),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}}).encode(),
         {"content-type": "application/json"}, 400, "request.uid: required field is missing"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported Content-Type 'text/plain'"),
        (b"{" + b" " * 300_000 + b"}", {"content-type": "application/json"}, 413, "exceeds the limit of 200000 bytes"),
        # issue 13: these were 500s with a traceback
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": ' + b"[" * 90_000 + b"]" * 90_000 + b"}",
         {"content-type": "application/json"}, 400, "nests arrays and objects deeper than 200 levels"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}",
         {"content-type": "application/json"}, 400, "nests arrays and objects deeper than 200 levels"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": ' + b'{"a": ' * 300 + b"1" + b"}" * 300 + b"}",
         {"content-type": "application/json"}, 400, "nests arrays and objects deeper than 200 levels"),
    ],
)
def test_bad_requests_get_a_4xx_status_with_a_message(server: ServerProcess, body: bytes, headers: dict,
                                                      status: int, message: str) -> None:
    with server.client() as client:
        answer = client.post("/validate", content=body, headers=headers)
    assert answer.status_code == status
    payload = answer.json()
    assert payload["kind"] == "Status"
    assert payload["code"] == status
    assert message in payload["message"]


def test_get_on_validate_is_not_allowed(server: ServerProcess) -> None:
    with server.client() as client:
        assert client.get("/validate").status_code == 405


def test_a_chunked_body_over_the_limit_is_rejected(server: ServerProcess) -> None:
    def chunks():
        for _ in range(30):
            yield b" " * 10_000

    with server.client() as client:
        answer = client.post("/validate", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413


def _raw_tls(server: ServerProcess) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=server.ca)
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_a_slow_body_times_out_with_408(server: ServerProcess) -> None:
    with _raw_tls(server) as conn:
        conn.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"apiVersion\"")
        reply = b""
        while b"request body" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    reply = reply.decode()
    assert reply.startswith("HTTP/1.1 408")
    assert "request body not received within 1s" in reply


def test_a_truncated_body_does_not_harm_the_server(server: ServerProcess) -> None:
    with _raw_tls(server) as conn:
        conn.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"apiVersion\"")
    assert post(server, review(pod())).json()["response"]["allowed"] is True


def test_health_readiness_policies_and_metrics(server: ServerProcess) -> None:
    post(server, review(pod(privileged=True)))
    with server.client() as client:
        assert client.get("/healthz").text == "ok\n"
        assert client.get("/readyz").status_code == 200
        policies = client.get("/policies").json()
        metrics = client.get("/metrics").text
    assert {"no-privileged", "team-label"} <= set(policies["policies"])
    assert {"policy": "no-privileged", "binding": "no-privileged-enforce", "validationActions": ["Deny"],
            "paramRef": None} in policies["enforcement"]
    assert 'celgate_admission_requests_total{allowed="false",operation="CREATE",resource="pods"}' in metrics
    # kube-apiserver's labels and values: a failed validation is error_type="invalid_error"
    assert ('celgate_validating_admission_policy_check_total{enforcement_action="deny",error_type="invalid_error",'
            'policy="no-privileged",policy_binding="no-privileged-enforce"}') in metrics
    assert "celgate_admission_requests_in_flight" in metrics


def _generation(server: ServerProcess) -> dict:
    with server.client() as client:
        return client.get("/policies").json()


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_policy_hot_reload_good_then_bad(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    with ServerProcess.with_certs(tmp_path, ["--policies", str(policies), *NAMESPACE_ARGS, "--workers", "1",
                                             "--reload-interval", "0.2"]) as server:
        assert _generation(server)["generation"] == 1
        # good: tighten the policy to reject every Pod named "forbidden"
        extra = (POLICIES / "no-privileged.yaml").read_text().replace("no-privileged", "no-forbidden-name")
        extra = extra.replace("size(variables.privileged) == 0", "object.metadata.name != 'forbidden'")
        (policies / "extra.yaml").write_text(extra)
        _wait_for(lambda: _generation(server)["generation"] == 2)
        assert post(server, review(pod(name="forbidden"))).json()["response"]["allowed"] is False
        # bad: a policy that does not compile is rejected and the last good set keeps serving
        (policies / "broken.yaml").write_text(extra.replace("no-forbidden-name", "broken").replace(
            "object.metadata.name != 'forbidden'", "object.metadata.name !="))
        _wait_for(lambda: _generation(server)["lastReloadError"] is not None)
        status = _generation(server)
        assert status["generation"] == 2
        assert "broken" in status["lastReloadError"]
        assert post(server, review(pod(name="forbidden"))).json()["response"]["allowed"] is False
        assert post(server, review(pod(privileged=True))).json()["response"]["allowed"] is False
        with server.client() as client:
            assert "celgate_policy_set_last_reload_success 0.0" in client.get("/metrics").text


def test_certificate_rotation_while_serving(tmp_path: Path) -> None:
    with ServerProcess.with_certs(tmp_path, ["--policies", str(POLICIES), "--workers", "1",
                                             "--reload-interval", "0.2"]) as server:
        assert post(server, review(pod())).status_code == 200
        rotated = write_bundle(generate_bundle(ip_addresses=["127.0.0.1"]), tmp_path / "rotated")
        live = Path(server.ca).parent
        shutil.copy(rotated.key, live / "tls.key.new")
        shutil.copy(rotated.cert, live / "tls.crt")
        (live / "tls.key.new").replace(live / "tls.key")

        def new_ca_accepted() -> bool:
            try:
                with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=rotated.ca_cert), timeout=5) as client:
                    return client.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        _wait_for(new_ca_accepted)
        with pytest.raises(httpx.ConnectError):
            with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=server.ca), timeout=5) as client:
                client.get("/healthz")


def test_client_certificates_are_enforced_with_client_ca(tmp_path: Path) -> None:
    client_ca, client_ca_key = generate_ca("apiserver-client-ca")
    from cryptography.hazmat.primitives import serialization

    ca_path = tmp_path / "client-ca.crt"
    ca_path.write_bytes(client_ca.public_bytes(serialization.Encoding.PEM))
    cert, key = issue_certificate(client_ca, client_ca_key, common_name="kube-apiserver", client=True)
    (tmp_path / "client.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "client.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    process = ServerProcess.with_certs(tmp_path, ["--policies", str(POLICIES), "--workers", "1",
                                                  "--client-ca", str(ca_path)])
    process._wait_healthy = lambda timeout: None  # type: ignore[method-assign]  # /healthz needs a client cert too
    with process as server:
        context = ssl.create_default_context(cafile=server.ca)
        context.load_cert_chain(tmp_path / "client.crt", tmp_path / "client.key")
        _wait_for(lambda: _healthy(server, context))
        with httpx.Client(base_url=server.url, verify=context, timeout=5) as client:
            assert client.post("/validate", json=review(pod())).json()["response"]["allowed"] is True
        with pytest.raises(httpx.TransportError):
            with server.client() as anonymous:
                anonymous.post("/validate", json=review(pod()))


def _healthy(server: ServerProcess, context: ssl.SSLContext) -> bool:
    try:
        with httpx.Client(base_url=server.url, verify=context, timeout=5) as client:
            return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def test_two_workers_share_the_port_and_aggregate_metrics(tmp_path: Path) -> None:
    with ServerProcess.with_certs(tmp_path, ["--policies", str(POLICIES), *NAMESPACE_ARGS, "--workers", "2"]) as server:
        with server.client() as client:
            for index in range(20):
                client.post("/validate", json=review(pod(name=f"p{index}", privileged=True)))
        with server.client() as client:
            metrics = client.get("/metrics").text
    line = next(l for l in metrics.splitlines()
                if l.startswith('celgate_admission_requests_total{allowed="false",operation="CREATE",resource="pods"}'))
    assert float(line.split()[-1]) == 20.0
    assert server.stop() == 0


def test_the_embedded_default_serves_and_its_curl_example_denies() -> None:
    process = ServerProcess(["--workers", "1"])
    with process:
        curl_line = next(line.strip() for line in process.stderr_lines if line.strip().startswith("curl "))
        completed = subprocess.run(curl_line, shell=True, capture_output=True, text=True, timeout=30, check=False)
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "privileged" in response["status"]["message"]
    assert 'container "app"' in response["status"]["message"]


def _review_for(obj: dict, group: str, resource: str) -> dict:
    document = review(obj)
    document["request"]["kind"]["group"] = group
    document["request"]["resource"] = {"group": group, "version": "v1", "resource": resource}
    return document


@pytest.fixture(scope="module")
def limits_server(tmp_path_factory: pytest.TempPathFactory):
    """The issue-10 reproductions: a short-circuited kind filter (compat.py D30) and the cost
    and iteration limits, served as kube-apiserver would answer them."""
    tmp = tmp_path_factory.mktemp("limits")
    policy_dir = Path(__file__).parent / "fixtures" / "policy"
    process = ServerProcess.with_certs(
        tmp, ["--policies", str(policy_dir / "short-circuit" / "policy.yaml"), "--policies", str(policy_dir / "limits" / "policies.yaml"),
              "--workers", "1", "--max-body-bytes", str(3 * 1024 * 1024)],
    )
    with process:
        yield process


def test_a_deployment_with_host_network_is_denied_after_a_short_circuit(limits_server: ServerProcess) -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "host-network", "namespace": "default"},
        "spec": {"template": {"spec": {"hostNetwork": True, "containers": [{"name": "web", "image": "nginx"}]}}},
    }
    answer = post(limits_server, _review_for(deployment, "apps", "deployments")).json()["response"]
    assert answer["allowed"] is False
    assert answer["status"]["message"].endswith("denied request: hostNetwork is not allowed")


@pytest.mark.parametrize(("label", "env", "allowed"), [("env-exists", 300, True), ("env-exists", 600, False), ("env-never", 2000, True)])
def test_cost_and_iteration_limits_are_kube_apiservers(limits_server: ServerProcess, label: str, env: int, allowed: bool) -> None:
    obj = pod(f"{label}-{env}", namespace="default", labels={"limits": label})
    obj["spec"]["containers"][0]["env"] = [{"name": f"VAR_{i}", "value": "x"} for i in range(env)]
    answer = post(limits_server, review(obj)).json()["response"]
    assert answer["allowed"] is allowed, answer.get("status")
    if not allowed:
        assert answer["status"]["message"].endswith("resulted in error: operation cancelled: actual cost limit exceeded")


def test_a_variable_read_by_40_validations_is_charged_once(limits_server: ServerProcess) -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default", "labels": {"limits": "variable-once"}},
                 "data": {"big": "a" * 1_000_000}}
    answer = post(limits_server, _review_for(configmap, "", "configmaps")).json()["response"]
    assert answer["allowed"] is True, answer.get("status")
