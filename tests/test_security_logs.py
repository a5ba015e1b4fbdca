"""No object data in logs or metrics: a value planted in every part of an object a caller controls
never appears in a log line (stderr, stdout, the decision log file) or a metric sample.

The server runs the shipped Pod Security policies and a policy that errors on the planted value
(``int()`` of it, under failurePolicy Fail), at debug level, so the denial, the evaluation-error
and the bad-request paths all run; the value also travels in a URL, a header and a request the
HTTP parser rejects. celgate has no option that logs objects; a policy's own
``message``/``messageExpression`` is logged as written (except for Secrets and ConfigMaps), so
what a policy author chooses to echo is theirs — see SECURITY.md.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.server_process import ServerProcess
from webhook.shipped import shipped_policies_dir

FIXTURES = Path(__file__).parent / "fixtures" / "security"
SECRET = f"s3cr3t-{uuid.uuid4().hex}"
FORMS = (SECRET, base64.b64encode(SECRET.encode()).decode())


def _review(obj: dict[str, Any], *, operation: str = "CREATE", old: dict[str, Any] | None = None,
            resource: str = "pods") -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": "", "version": "v1", "kind": obj["kind"]},
        "resource": {"group": "", "version": "v1", "resource": resource},
        "name": obj["metadata"]["name"], "namespace": "secure", "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj, "dryRun": False,
    }
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _pod(name: str, *, privileged: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app", "image": "registry.example/app:1",
        "args": ["--token", SECRET],
        "env": [{"name": "API_TOKEN", "value": SECRET}],
        "securityContext": {"privileged": True} if privileged else {
            "runAsNonRoot": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "secure", "annotations": {"example.com/token": SECRET}},
            "spec": {"containers": [container]}}


def _erroring(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with the planted value where the annotation-number policy calls int() on it."""
    obj["metadata"].setdefault("annotations", {})["example.com/replicas"] = SECRET
    return obj


def _secret(name: str) -> dict[str, Any]:
    return _erroring({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "secure"},
                      "type": "Opaque", "data": {"password": FORMS[1]}, "stringData": {"token": SECRET}})


def _config_map(name: str) -> dict[str, Any]:
    return _erroring({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "secure"},
                      "data": {"token": SECRET}})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    tmp = tmp_path_factory.mktemp("security-logs")
    decision_file = tmp / "decisions.jsonl"
    process = ServerProcess.with_certs(tmp, [
        "--policies", str(shipped_policies_dir()), "--policies", str(FIXTURES), "--workers", "1",
        "--namespace-labels", "secure=pod-security.kubernetes.io/enforce=restricted",
        "--log-level", "debug", "--decision-log-file", str(decision_file),
    ])
    with process:
        yield process, decision_file


@pytest.fixture(scope="module")
def exchanges(server) -> list[tuple[dict[str, Any] | str, httpx.Response]]:
    """Every kind of request that carries the planted value, and what celgate answered."""
    process, _ = server
    reviews: list[dict[str, Any] | str] = [
        _review(_pod("allowed", privileged=False)),
        _review(_pod("privileged", privileged=True)),
        _review(_erroring(_pod("erroring", privileged=False))),
        _review(_erroring(_pod("updated", privileged=False)), operation="UPDATE", old=_pod("updated", privileged=True)),
        _review(_secret("credentials"), resource="secrets"),
        _review(_config_map("settings"), resource="configmaps"),
        json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "request": {"object": _pod("no-uid", privileged=True)}}),  # 400: no uid
        '{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "' + SECRET,  # 400: truncated
    ]
    answered = []
    with process.client() as client:
        for body in reviews:
            content = body if isinstance(body, str) else json.dumps(body)
            answered.append((body, client.post("/validate", content=content,
                                               headers={"Content-Type": "application/json"})))
        # in the URL and a header, and an unparseable request line: the HTTP layer's own logs
        assert client.get(f"/{SECRET}", params={"token": SECRET}).status_code == 404
        assert client.post("/validate", headers={"Authorization": f"Bearer {SECRET}"}, content=b"{}").status_code == 415
    context = ssl.create_default_context(cafile=process.ca)
    with socket.create_connection(("127.0.0.1", process.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"POST /validate HTTP/1.1\r\nHost: x\r\nBad Header {SECRET}\r\n\r\n".encode())
            assert tls.recv(4096).startswith(b"HTTP/1.1 400")
    return answered


@pytest.fixture(scope="module")
def pages(server, exchanges) -> tuple[str, str]:
    """/metrics and /policies after the exchanges, before any test stops the server."""
    process, _ = server
    with process.client() as client:
        return client.get("/metrics").text, client.get("/policies").text


def _verdicts(exchanges) -> list[Any]:
    return [r.json()["response"]["allowed"] if r.status_code == 200 else r.status_code for _, r in exchanges]


def test_the_requests_took_every_path(exchanges) -> None:
    assert _verdicts(exchanges) == [True, False, False, False, False, False, 400, 400]
    erroring = exchanges[2][1].json()["response"]["status"]["message"]
    assert "annotation-number" in erroring


def test_the_planted_value_is_in_no_log_line(server, exchanges, pages) -> None:
    process, decision_file = server
    process.stop()  # flush every handler
    decisions = decision_file.read_text().splitlines()
    assert len(decisions) == 6, "one decision line per AdmissionReview answered"
    assert any("annotation-number" in line for line in decisions), "the evaluation error was logged"
    for line in [*process.stderr_lines, *decisions]:
        for form in FORMS:
            assert form not in line


def test_the_planted_value_is_in_no_metric_sample(pages) -> None:
    metrics, policies = pages
    assert "celgate_admission_requests_total" in metrics
    for form in FORMS:
        assert form not in metrics
        assert form not in policies


def test_the_decision_log_carries_metadata_only(server, exchanges) -> None:
    process, decision_file = server
    process.stop()
    records = [json.loads(line) for line in decision_file.read_text().splitlines()]
    assert {tuple(sorted(r)) for r in records} == {(
        "allowed", "audited_by", "code", "denied_by", "duration_ms", "errors", "kind", "message", "msg",
        "name", "namespace", "operation", "policy_generation", "resource", "ts", "uid", "user", "warned_by",
    )}
    secret_lines = [r for r in records if r["resource"] in ("secrets", "configmaps")]
    assert len(secret_lines) == 2 and all(r["message"].startswith("(withheld") for r in secret_lines)
