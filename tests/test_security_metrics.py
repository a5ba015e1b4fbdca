"""Metric labels stay bounded whatever a caller sends: the request's resource is the only label a
caller names, and past webhook.metrics.MAX_RESOURCE_LABELS distinct values (or for a value that
is no resource name) it reads "other"."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.server_process import ServerProcess
from webhook.metrics import MAX_RESOURCE_LABELS, OTHER_RESOURCE

POLICIES = Path(__file__).parent / "fixtures" / "server" / "policies"
_SERIES = re.compile(r'^celgate_admission_requests_total\{[^}]*resource="([^"]*)"', re.MULTILINE)


def _review(resource: str) -> dict:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": {"group": "example.com", "version": "v1", "kind": "Widget"},
        "resource": {"group": "example.com", "version": "v1", "resource": resource},
        "name": "w", "namespace": "default", "operation": "CREATE",
        "userInfo": {"username": "mallory"}, "object": obj}}


@pytest.mark.parametrize("junk", ["Not A Resource!", "x" * 64, "a/../b", 'quote"brace}'])
def test_a_value_that_is_no_resource_name_is_counted_as_other(junk: str, tmp_path: Path) -> None:
    from webhook.metrics import resource_label

    assert resource_label(junk) == OTHER_RESOURCE
    assert resource_label("pods") == "pods"


def test_a_caller_inventing_resources_cannot_grow_the_series_without_bound(tmp_path: Path) -> None:
    sent = MAX_RESOURCE_LABELS + 64
    with ServerProcess.with_certs(tmp_path, ["--policies", str(POLICIES), "--workers", "1"]) as server:
        with server.client() as client:
            for index in range(sent):
                response = client.post("/validate", json=_review(f"widgets{index}"))
                assert response.json()["response"]["allowed"] is True
            page = client.get("/metrics").text
    labels = set(_SERIES.findall(page))
    assert len(labels) == MAX_RESOURCE_LABELS + 1
    assert OTHER_RESOURCE in labels
    total = sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
                if line.startswith("celgate_admission_requests_total{"))
    assert total == sent, "every request is still counted"
