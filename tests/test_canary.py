"""The canary's verdicts over a fake API server: denied by celgate and admitted passes; a bad
Pod admitted, denied by someone else, or denied without the expected text fails; and the
exported series say so (the last-success time only on success)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from webhook.canary import DEFAULT_EXPECTED, DEFAULT_NAMESPACE, NAMESPACE_LABELS, bad_pod, good_pod, run_canary
from webhook.commands.canary import _export
from webhook.kube_rest import Reply

CELGATE = 'admission webhook "validate.celgate.io" denied the request: '
REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_policies_deny_the_bad_pod_with_the_expected_message_and_admit_the_good_one():
    from webhook.documents import Document
    from webhook.policy.loader import load_policy_set
    from webhook.scan import scan_documents

    pods = [{**pod, "metadata": {**pod["metadata"], "namespace": DEFAULT_NAMESPACE}} for pod in (bad_pod(), good_pod())]
    documents = [Document(source="canary", index=index, line=0, obj=pod) for index, pod in enumerate(pods)]
    scan = scan_documents(load_policy_set([REPO / "policies"]), documents,
                          namespace_labels={DEFAULT_NAMESPACE: NAMESPACE_LABELS})
    bad, good = (result.decision for result in scan.results)
    assert not bad.allowed and bad.status is not None and bad.status.message.startswith(
        "ValidatingAdmissionPolicy 'pss-enforce' with binding 'pss-enforce' denied request: " + DEFAULT_EXPECTED)
    assert good.allowed


class FakeAPI:
    def __init__(self, bad: Reply, good: Reply = Reply(201, {})) -> None:
        self.replies = {"celgate-canary-privileged": bad, "celgate-canary-restricted": good}
        self.created_namespace: dict[str, Any] | None = None
        self.queries: list[Any] = []

    def get(self, path: str) -> Any:
        return None

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        self.created_namespace = body
        return body

    def request(self, method: str, path: str, body: Any = None, *, query: Any = None, **kwargs: Any) -> Reply:
        self.queries.append(query)
        return self.replies[body["metadata"]["name"]]


def _denied(message: str) -> Reply:
    return Reply(403, {"message": message})


def test_denied_by_celgate_and_admitted_passes_with_dry_runs_in_a_labelled_namespace():
    api = FakeAPI(_denied(CELGATE + "ValidatingAdmissionPolicy 'pss-enforce' with binding 'pss-enforce' denied request: "
                          + DEFAULT_EXPECTED + ", allowPrivilegeEscalation != false (...)"))
    result = run_canary(api, labels={"team": "sre"})  # type: ignore[arg-type]
    assert result.ok, result.lines
    assert api.queries == [{"dryRun": "All"}, {"dryRun": "All"}]
    assert api.created_namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert api.created_namespace["metadata"]["labels"]["team"] == "sre"


@pytest.mark.parametrize(("bad", "good", "reason"), [
    (Reply(201, {}), Reply(201, {}), "ADMITTED"),
    (_denied('admission webhook "other.example.com" denied the request: no'), Reply(201, {}), "not by celgate"),
    (_denied(CELGATE + "something else"), Reply(201, {}), "without the expected text"),
    (_denied(CELGATE + 'violates PodSecurity "baseline:latest": privileged (container "app" ...)'), Reply(201, {}),
     "without the expected text"),  # the namespace is not at the level the canary expects
    (_denied(CELGATE + DEFAULT_EXPECTED), _denied(CELGATE + "runAsNonRoot"), "restricted Pod was DENIED"),
])
def test_anything_else_fails(bad, good, reason):
    result = run_canary(FakeAPI(bad, good))  # type: ignore[arg-type]
    assert not result.ok
    assert any(reason in line for line in result.errors), result.errors


def test_the_textfile_carries_success_and_the_last_success_only_when_it_passed(tmp_path: Path):
    args = argparse.Namespace(pushgateway=None, textfile=tmp_path / "canary.prom")
    _export(run_canary(FakeAPI(_denied(CELGATE + DEFAULT_EXPECTED))), args)  # type: ignore[arg-type]
    text = args.textfile.read_text()
    assert "celgate_canary_success 1.0" in text and "celgate_canary_last_success_timestamp_seconds" in text
    _export(run_canary(FakeAPI(Reply(201, {}))), args)  # type: ignore[arg-type]
    text = args.textfile.read_text()
    assert "celgate_canary_success 0.0" in text and "celgate_canary_last_success_timestamp_seconds" not in text
