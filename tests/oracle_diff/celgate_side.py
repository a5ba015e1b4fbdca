"""celgate's answers to the oracle's inputs, through the code paths celgate itself uses.

Expressions go through ``celgate eval --batch`` (webhook.commands.eval.run_batch, in-process).
A policy case goes through ``webhook.policy.dispatcher.decide``, the function ``celgate test``
and the webhook call; the per-validation results are read from the ``validate`` call decide
makes, which is the shape validating/validator.go's Validate returns (the oracle's output).
"""

from __future__ import annotations

import io
import json
from typing import Any
from unittest import mock

from webhook.commands.eval import environment, run_batch
from webhook.documents import Document
from webhook.policy import dispatcher
from webhook.policy.attributes import AdmissionAttributes, GroupVersionKind, GroupVersionResource, UserInfo
from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.errors import PolicyLoadError
from webhook.policy.loader import load_policy_documents


def evaluate_expressions(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = io.StringIO()
    run_batch(environment(), [json.dumps(case, ensure_ascii=False) for case in cases], out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _documents(case: dict[str, Any]) -> list[Document]:
    policy = case["policy"]
    binding: dict[str, Any] = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy["metadata"]["name"] + "-binding"},
        "spec": {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]},
    }
    if case.get("params") is not None:
        params = case["params"]["metadata"]
        binding["spec"]["paramRef"] = {"name": params["name"], "namespace": params["namespace"], "parameterNotFoundAction": "Deny"}
    return [Document("<oracle case>", index, 1, obj) for index, obj in enumerate((policy, binding))]


def evaluate_policy(case: dict[str, Any]) -> dict[str, Any]:
    try:
        policy_set = load_policy_documents(_documents(case))
    except PolicyLoadError as exc:
        return {"compileErrors": [str(problem) for problem in exc.problems], "decisions": [], "auditAnnotations": []}
    user = case.get("userInfo") or {}
    attributes = AdmissionAttributes(
        uid="oracle", kind=GroupVersionKind(**case["kind"]), resource=GroupVersionResource(**case["resource"]),
        operation=case["operation"], name=case.get("name", ""), namespace=case.get("namespaceName", ""),
        sub_resource=case.get("subResource", ""),
        user_info=UserInfo(username=user.get("username", ""), uid=user.get("uid", ""), groups=tuple(user.get("groups", ())),
                           extra={k: tuple(v) for k, v in (user.get("extra") or {}).items()}),
        object=case.get("object"), old_object=case.get("oldObject"), options=case.get("options"), dry_run=case.get("dryRun", False),
    )
    cluster = StaticClusterData(
        namespaces=[case["namespace"]] if case.get("namespace") else [],
        params=[case["params"]] if case.get("params") is not None else [],
    )
    results = []

    def recording_validate(*args: Any, **kwargs: Any) -> Any:
        result = validate(*args, **kwargs)
        results.append(result)
        return result

    validate = dispatcher.validate
    with mock.patch.object(dispatcher, "validate", recording_validate):
        decision = dispatcher.decide(policy_set, attributes, cluster)
    if len(results) != 1:
        return {"compileErrors": [], "decisions": None, "auditAnnotations": None,
                "notEvaluated": [e.result + ": " + (e.message or "") for e in decision.evaluations]}
    result = results[0]
    return {
        "compileErrors": [],
        "decisions": [{"action": d.action, "evaluation": d.evaluation, "message": d.message, "reason": d.reason} for d in result.decisions],
        "auditAnnotations": [{"key": a.key, "action": a.action, "value": a.value, "error": a.error} for a in result.audit_annotations],
    }
