"""Hostile bodies against the real server (``celgate serve`` over real TLS, with the small policy
set of tests/fixtures/server, which starts fast): a 4xx or an answer for every one, no 5xx, no
traceback in its log, still healthy. The shipped policies' verdicts are test_verdict_fuzz.py's."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.profile import fuzz_settings
from tests.fuzz.targets import DEADLINE_SECONDS
from tests.fuzz.test_review_fuzz import mutated_reviews
from tests.server_process import ServerProcess

POLICIES = Path(__file__).resolve().parents[1] / "fixtures" / "server" / "policies"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tls-fuzz")
    process = ServerProcess.with_certs(
        tmp, ["--policies", str(POLICIES), "--workers", "1", "--namespace-labels", "fuzz=enforce=true",
              "--body-timeout", "2"],
    )
    with process:
        yield process
    assert not [line for line in process.stderr_lines if "Traceback" in line], "\n".join(process.stderr_lines[-50:])


@pytest.fixture(scope="module")
def client(server: ServerProcess):
    with server.client() as http:
        http.timeout = httpx.Timeout(DEADLINE_SECONDS * 3)
        yield http


@fuzz_settings(100)
@given(body=st.one_of(st.binary(max_size=2000), mutated_reviews().map(lambda r: json.dumps(r).encode())))
def test_no_hostile_body_gets_a_5xx_over_tls(client: httpx.Client, body: bytes) -> None:
    answer = client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert answer.status_code in (200, 400, 413), answer.text
    if answer.status_code == 200:
        response = answer.json()["response"]
        assert isinstance(response["allowed"], bool)
        assert response.get("status", {}).get("code", 0) < 500, response


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400, "deeper than 200 levels"),
        (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, 400, "deeper than 200 levels"),
        (b'{"a": ' + b"1" * 5_000 + b"}", 400, "not valid JSON"),
        (b'{"a": "' + b"x" * (3 * 1024 * 1024) + b'"}', 413, "exceeds the limit of 3145728 bytes (--max-body-bytes)"),
    ],
    ids=["100k-arrays", "5k-objects", "5000-digit-number", "over-3MiB"],
)
def test_bodies_over_the_limits_get_their_4xx_over_tls(client: httpx.Client, body: bytes, status: int, message: str) -> None:
    answer = client.post("/validate", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status
    assert message in answer.json()["message"]


def test_the_server_is_healthy_after_the_fuzzing(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
