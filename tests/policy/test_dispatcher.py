"""decide(): verdicts, messages, warnings and audit annotations worded as kube-apiserver v1.35.

Expected texts come from validating/dispatcher.go, validator.go, cel/activation.go and
generic/policy_dispatcher.go (and their tests: admission_test.go, validator_test.go).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webhook.policy.cluster_data import StaticClusterData
from webhook.policy.dispatcher import decide
from webhook.policy.loader import load_policy_set

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "policy"


def denial(policy: str, binding: str, message: str) -> str:
    return f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: {message}"


@pytest.fixture(scope="module")
def configmap_rules():
    return load_policy_set([FIXTURES / "configmap-rules.yaml"])


@pytest.mark.parametrize(
    ("data", "code", "reason", "message"),
    [
        # no message: "failed expression: " + the trimmed expression
        ({"a": "", "b": "", "c": ""}, 422, "Invalid",
         denial("default-message", "default-message", "failed expression: object.data.size() < 3")),
        # message is trimmed; reason picks the HTTP code
        ({"forbidden": ""}, 403, "Forbidden",
         denial("messages", "messages", "key 'forbidden' is not allowed")),
        # messageExpression error -> message
        ({"fails-message": ""}, 422, "Invalid", denial("messages", "messages", "fallback message")),
        # messageExpression all whitespace -> message
        ({"blank-message": ""}, 422, "Invalid",
         denial("messages", "messages", "blank messageExpression falls back")),
        # multi-line messageExpression result and no message -> the failed expression
        ({"multiline-message": ""}, 422, "Invalid",
         denial("messages", "messages", "failed expression: !('multiline-message' in object.data)")),
        # messageExpression result is trimmed
        ({"computed": "v"}, 413, "RequestEntityTooLarge", denial("messages", "messages", "computed: v")),
    ],
)
def test_failed_validation_messages(configmap_rules, request_for, configmap, data, code, reason, message):
    decision = decide(configmap_rules, request_for(configmap("cm", data=data)), StaticClusterData())
    assert not decision.allowed
    assert (decision.status.code, decision.status.reason, decision.status.message) == (code, reason, message)


def test_passing_request_is_allowed_without_status(configmap_rules, request_for, configmap):
    decision = decide(configmap_rules, request_for(configmap("cm", data={"a": "1"})), StaticClusterData())
    assert decision.allowed and decision.status is None
    assert {e.policy: e.result for e in decision.evaluations} == {
        "default-message": "admit", "messages": "admit",
        "runtime-error-fail": "skip", "runtime-error-ignore": "skip",
    }


def test_runtime_error_denies_under_fail_and_is_ignored_under_ignore(configmap_rules, request_for, configmap):
    decision = decide(configmap_rules, request_for(configmap("runtime-error-1")), StaticClusterData())
    error = "expression 'object.data.missing == 'x'' resulted in error: no such key: missing"
    assert decision.status.message == denial("runtime-error-fail", "runtime-error-fail", error)
    # an error has no reason of its own: the dispatcher's default, Invalid
    assert (decision.status.code, decision.status.reason) == (422, "Invalid")
    by_policy = {e.policy: e for e in decision.evaluations}
    assert by_policy["runtime-error-fail"].result == "error"
    ignored = by_policy["runtime-error-ignore"]
    assert (ignored.result, ignored.ignored_error, ignored.message) == ("admit", True, error)


def test_first_denial_wins_in_policy_name_order(configmap_rules, request_for, configmap):
    decision = decide(configmap_rules, request_for(configmap("cm", data={"forbidden": "", "b": "", "c": ""})), StaticClusterData())
    assert decision.status.message.startswith("ValidatingAdmissionPolicy 'default-message'")
    assert [e.result for e in decision.evaluations if e.policy in ("default-message", "messages")] == ["deny", "deny"]


@pytest.fixture(scope="module")
def match_conditions():
    return load_policy_set([FIXTURES / "match-conditions.yaml"])


def test_match_condition_false_skips_the_policy(match_conditions, request_for, configmap):
    decision = decide(match_conditions, request_for(configmap("cm", labels={"team": "skip"})), StaticClusterData())
    assert decision.allowed
    assert [e.message for e in decision.evaluations] == ["matchCondition 'has-team' is false"] * 2


def test_match_condition_false_wins_over_an_error(match_conditions, request_for, configmap):
    # has-team errors (no team label), not-excluded is false: no match, no error
    decision = decide(match_conditions, request_for(configmap("cm", labels={"excluded": ""})), StaticClusterData())
    fail = next(e for e in decision.evaluations if e.policy == "conditions-fail")
    assert (fail.result, fail.message) == ("skip", "matchCondition 'not-excluded' is false")


def test_match_condition_error_obeys_failure_policy(match_conditions, request_for, configmap):
    decision = decide(match_conditions, request_for(configmap("cm", labels={})), StaticClusterData())
    assert decision.status.message == denial(
        "conditions-fail", "conditions-fail",
        "expression 'object.metadata.labels.team != 'skip'' resulted in error: no such key: team",
    )
    ignored = next(e for e in decision.evaluations if e.policy == "conditions-ignore")
    assert ignored.result == "skip"


@pytest.fixture(scope="module")
def actions():
    return load_policy_set([FIXTURES / "actions.yaml"])


@pytest.fixture
def action_cluster(namespace):
    return StaticClusterData([namespace("w", mode="warn"), namespace("a", mode="audit"), namespace("e", mode="enforce")])


def test_warn_only_binding_allows_with_a_warning(actions, action_cluster, request_for, configmap):
    decision = decide(actions, request_for(configmap("cm", namespace="w")), action_cluster)
    assert decision.allowed
    assert decision.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'require-owner' with binding 'require-owner-warn': "
        "configmaps need an owner label",
    )
    assert decision.audit_annotations == {}


def test_audit_only_binding_allows_and_records_the_failure(actions, action_cluster, request_for, configmap):
    decision = decide(actions, request_for(configmap("cm", namespace="a")), action_cluster)
    assert decision.allowed and decision.warnings == ()
    value = decision.audit_annotations["validation.policy.admission.k8s.io/validation_failure"]
    assert value == (
        '[{"message":"configmaps need an owner label","policy":"require-owner",'
        '"binding":"require-owner-audit","expressionIndex":1,"validationActions":["Audit"]}]'
    )


def test_deny_and_audit_binding_does_both(actions, action_cluster, request_for, configmap):
    decision = decide(actions, request_for(configmap("cm", namespace="e")), action_cluster)
    assert decision.status.message == denial("require-owner", "require-owner-deny-audit", "configmaps need an owner label")
    failure = json.loads(decision.audit_annotations["validation.policy.admission.k8s.io/validation_failure"])
    assert failure[0]["validationActions"] == ["Deny", "Audit"]


@pytest.mark.parametrize(
    ("namespace_name", "labels", "evaluated"),
    [
        ("e", {"exempt": "yes"}, []),  # objectSelector DoesNotExist excludes it
        ("e", {"owner": "me"}, ["require-owner-deny-audit"]),
        ("w", {"owner": "me"}, ["require-owner-warn"]),
    ],
)
def test_binding_selectors(actions, action_cluster, request_for, configmap, namespace_name, labels, evaluated):
    decision = decide(actions, request_for(configmap("cm", namespace=namespace_name, labels=labels)), action_cluster)
    assert decision.allowed
    assert [e.binding for e in decision.evaluations if e.result != "skip"] == evaluated


def test_object_selector_also_matches_the_old_object(actions, action_cluster, request_for, configmap):
    old = configmap("cm", namespace="e", labels={"exempt": "yes"})
    new = configmap("cm", namespace="e", labels={"exempt": "yes"})
    decision = decide(actions, request_for(new, "CREATE", old=old), action_cluster)
    assert decision.allowed


def test_unknown_namespace_with_a_namespace_selector_is_a_configuration_error(actions, action_cluster, request_for, configmap):
    decision = decide(actions, request_for(configmap("cm", namespace="nowhere")), action_cluster)
    assert decision.status.message == denial(
        "require-owner", "require-owner-audit", 'failed to configure binding: namespaces "nowhere" not found'
    )


def _limit(name: str, namespace: str, max_keys: int, **labels: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"maxKeys": str(max_keys)},
    }


def _secret(namespace: str, keys: int) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": namespace},
            "data": {f"k{i}": "" for i in range(keys)}}


@pytest.fixture(scope="module")
def params_policy():
    return load_policy_set([FIXTURES / "params.yaml"])


@pytest.fixture
def params_namespaces(namespace):
    return [namespace("n1", params="by-name"), namespace("n2", params="by-selector"), namespace("n3", params="none")]


def test_param_by_name(params_policy, params_namespaces, request_for):
    cluster = StaticClusterData(params_namespaces, [_limit("limits", "n1", 1)])
    denied = decide(params_policy, request_for(_secret("n1", 2)), cluster)
    assert denied.status.message == denial("max-keys", "max-keys-by-name", "at most 1 keys (limits)")
    assert denied.audit_annotations == {"max-keys/limit": "limits=1"}
    assert [e.param for e in denied.evaluations if e.result == "deny"] == ["n1/limits"]
    assert decide(params_policy, request_for(_secret("n1", 1)), cluster).allowed


def test_param_selector_evaluates_once_per_param(params_policy, params_namespaces, request_for):
    cluster = StaticClusterData(params_namespaces, [_limit("small", "shared", 1, kind="limit"), _limit("big", "shared", 5, kind="limit"), _limit("other", "shared", 0)])
    decision = decide(params_policy, request_for(_secret("n2", 2)), cluster)
    assert decision.status.message == denial("max-keys", "max-keys-by-selector", "at most 1 keys (small)")
    assert [(e.param, e.result) for e in decision.evaluations if e.binding == "max-keys-by-selector"] == [
        ("shared/big", "admit"), ("shared/small", "deny"),
    ]
    # distinct values of one audit annotation key are joined
    assert decision.audit_annotations == {"max-keys/limit": "big=5, small=1"}


def test_missing_param_with_deny_action(params_policy, params_namespaces, request_for):
    decision = decide(params_policy, request_for(_secret("n1", 0)), StaticClusterData(params_namespaces))
    assert decision.status.message == denial(
        "max-keys", "max-keys-by-name",
        "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction",
    )


def test_missing_param_with_allow_action_skips_the_binding(params_policy, params_namespaces, request_for):
    decision = decide(params_policy, request_for(_secret("n2", 9)), StaticClusterData(params_namespaces))
    assert decision.allowed
    assert [e.result for e in decision.evaluations if e.binding == "max-keys-by-selector"] == ["skip"]


def test_binding_without_param_ref_evaluates_with_null_params(params_policy, params_namespaces, request_for):
    decision = decide(params_policy, request_for(_secret("n3", 9)), StaticClusterData(params_namespaces))
    assert decision.allowed and decision.audit_annotations == {}


@pytest.fixture(scope="module")
def equivalent():
    return load_policy_set([FIXTURES / "equivalent.yaml"])


def test_match_policy_equivalent_matches_an_older_group_version(equivalent, request_for):
    old_style = {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"}}
    decision = decide(equivalent, request_for(old_style), StaticClusterData())
    # request.kind/resource are what matched; requestKind what the client sent
    assert decision.status.message == denial(
        "show-request-equivalent", "show-request-equivalent",
        "apps/v1 Deployment deployments requested as extensions/v1beta1 by alice in default (CREATE)",
    )
    exact = next(e for e in decision.evaluations if e.policy == "show-request-exact")
    assert exact.result == "skip"
    assert decision.warnings == ()


def test_match_policy_exact_matches_the_same_group_version(equivalent, request_for):
    current = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"}}
    decision = decide(equivalent, request_for(current), StaticClusterData())
    assert decision.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'show-request-exact' with binding 'show-request-exact': exact",
    )


@pytest.fixture(scope="module")
def replicas():
    return load_policy_set([FIXTURES / "replicas.yaml"])


@pytest.mark.parametrize(
    ("count", "name", "message", "annotation"),
    [
        (3, "app-small", None, "replicas=3"),
        (9, "app-big", "replicas must be at most 5, got 9", "replicas=9"),
        (None, "app-default", None, "replicas=1"),  # variables.replicas: optional orValue
    ],
)
def test_variables_feed_validations_messages_and_audit_annotations(replicas, request_for, count, name, message, annotation):
    spec = {} if count is None else {"replicas": count}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    decision = decide(replicas, request_for(deployment), StaticClusterData())
    expected = None if message is None else denial("replica-limit", "replica-limit-binding", message)
    assert (decision.status.message if decision.status else None) == expected
    assert decision.audit_annotations == {"replica-limit/replicas": annotation}


def test_requests_for_policies_themselves_are_never_checked(replicas, request_for):
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "x"}}
    decision = decide(replicas, request_for(policy), StaticClusterData())
    assert decision.allowed and decision.evaluations == ()


@pytest.fixture(scope="module")
def variables_policy():
    return load_policy_set([FIXTURES / "variables.yaml"])


@pytest.mark.parametrize(
    ("labels", "data", "message"),
    [
        ({}, {"a": "", "b": "", "c": ""}, "too many keys: 3"),
        # variables.owner would fail (no owner label) but is short-circuited away
        ({}, {}, None),
        ({"owner": "eve"}, {}, "unknown owner eve"),
        ({"owner": "bob"}, {}, None),
        # a failing variable fails the expression that reads it, in kube-apiserver v1.35.8's words
        ({}, None, "expression 'variables.keys < 3' resulted in error: composited variable \"keys\" fails to evaluate: no such key: data"),
    ],
)
def test_variables_are_lazy_and_fail_alone(variables_policy, request_for, configmap, labels, data, message):
    obj = configmap("cm", labels=labels, data=data)
    if data is None:
        del obj["data"]
    decision = decide(variables_policy, request_for(obj), StaticClusterData())
    assert (decision.status.message if decision.status else None) == (
        None if message is None else denial("variables", "variables", message)
    )


@pytest.fixture(scope="module")
def configuration_errors():
    return load_policy_set([FIXTURES / "configuration-errors.yaml"])


def test_param_kind_no_resource_serves_is_a_policy_configuration_error(configuration_errors, request_for):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"}}
    decision = decide(configuration_errors, request_for(service), StaticClusterData())
    assert decision.status.message == (
        "ValidatingAdmissionPolicy 'unknown-param-kind' denied request: failed to configure policy: "
        "failed to find resource referenced by paramKind: 'apps/v1, Kind=Nope'"
    )


def test_namespaced_param_for_a_cluster_scoped_request(configuration_errors, request_for):
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"}}}
    decision = decide(configuration_errors, request_for(volume), StaticClusterData())
    # a configuration error denies even through a Warn-only binding
    assert decision.status.message == denial(
        "namespaced-params", "namespaced-params",
        "failed to configure binding: cannot use namespaced paramRef in policy binding that matches cluster-scoped resources",
    )
    assert decision.audit_annotations == {"audit-errors/capacity": "1Gi"}


def test_cluster_scoped_param_with_a_namespace_is_ignored_under_ignore(configuration_errors, request_for, namespace):
    decision = decide(configuration_errors, request_for(namespace("n1")), StaticClusterData())
    assert decision.allowed
    ignored = next(e for e in decision.evaluations if e.policy == "cluster-params")
    assert (ignored.ignored_error, ignored.message) == (
        True, "failed to configure binding: paramRef.namespace must not be provided for a cluster-scoped `paramKind`",
    )


def test_audit_annotation_error_denies_under_fail(configuration_errors, request_for):
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"}, "spec": {}}
    decision = decide(configuration_errors, request_for(volume), StaticClusterData())
    assert decision.status.message == denial(
        "audit-errors", "audit-errors",
        "expression 'string(object.spec.capacity.storage)' resulted in error: no such key: capacity",
    )


@pytest.fixture(scope="module")
def namespace_policy():
    return load_policy_set([FIXTURES / "namespace-object.yaml"])


def test_namespace_object_is_the_request_namespace(namespace_policy, request_for, configmap):
    frozen = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "ice", "labels": {"env": "frozen"}, "managedFields": [{"manager": "kubectl"}]}}
    cluster = StaticClusterData([frozen])
    decision = decide(namespace_policy, request_for(configmap("cm", namespace="ice")), cluster)
    assert decision.status.message == denial("namespace-object", "namespace-object", "namespace ice is frozen")
    # a Namespace request is not evaluated against itself
    assert decide(namespace_policy, request_for(frozen), cluster).allowed


def test_errors_follow_the_validation_actions(request_for, configmap, tmp_path):
    policy = (FIXTURES / "configmap-rules.yaml").read_text().replace("validationActions: [Deny]", "validationActions: [Warn]")
    (tmp_path / "warn.yaml").write_text(policy)
    decision = decide(load_policy_set([tmp_path / "warn.yaml"]), request_for(configmap("runtime-error-2")), StaticClusterData())
    assert decision.allowed
    assert decision.warnings == (
        "Validation failed for ValidatingAdmissionPolicy 'runtime-error-fail' with binding 'runtime-error-fail': "
        "expression 'object.data.missing == 'x'' resulted in error: no such key: missing",
    )


@pytest.fixture(scope="module")
def authorizer_policy():
    return load_policy_set([FIXTURES / "authorizer.yaml"])


def test_authorizer_checks(authorizer_policy, request_for, configmap):
    from webhook.cel.library.authorization import RuleAuthorizer

    authorizer = RuleAuthorizer.from_json([
        {"verbs": ["create"], "apiGroups": [""], "resources": ["configmaps"]},
        {"verbs": ["use"], "users": ["alice"], "apiGroups": ["example.com"], "resources": ["privileges"]},
    ])
    privileged = configmap("cm", labels={"privileged": ""})
    assert decide(authorizer_policy, request_for(privileged, user="alice"), StaticClusterData(), authorizer).allowed
    denied = decide(authorizer_policy, request_for(privileged, user="bob"), StaticClusterData(), authorizer)
    assert denied.status.message == denial("privileged-label", "privileged-label", "user bob may not use privileged")


def test_without_an_authorizer_checks_have_no_opinion(authorizer_policy, request_for, configmap):
    decision = decide(authorizer_policy, request_for(configmap("cm")), StaticClusterData())
    assert decision.status.message == denial("privileged-label", "privileged-label", "requestResource is the request's own resource")


@pytest.mark.parametrize(
    ("annotations", "message"),
    [(None, None), ({"limit": "ok"}, None), ({"limit": "bad"}, "limit is bad")],
)
def test_optional_valued_variables(variables_policy, request_for, configmap, annotations, message):
    obj = configmap("cm")
    if annotations is not None:
        obj["metadata"]["annotations"] = annotations
    decision = decide(variables_policy, request_for(obj), StaticClusterData())
    assert (decision.status.message if decision.status else None) == (
        None if message is None else denial("optional-variable", "optional-variable", message)
    )


@pytest.fixture(scope="module")
def cost_policy():
    return load_policy_set([FIXTURES / "cost.yaml"])


def test_per_expression_cost_limit(cost_policy, request_for, configmap, tmp_path):
    # 12M characters: contains() costs about 1.2M > the 1M per-call limit
    single = (FIXTURES / "cost.yaml").read_text().replace(
        "  - expression: \"!object.data.text.contains('needle')\"\n", "", 16)
    (tmp_path / "single.yaml").write_text(single)
    decision = decide(load_policy_set([tmp_path / "single.yaml"]), request_for(configmap("cm", data={"text": "a" * 12_000_000})), StaticClusterData())
    assert decision.status.message == denial(
        "cost-budget", "cost-budget",
        "expression '!object.data.text.contains('needle')' resulted in error: "
        "operation cancelled: actual cost limit exceeded",
    )


def test_a_cancelled_expression_still_charges_the_budget(cost_policy, request_for, configmap):
    # Each of the 17 is cancelled at about 1.2M, which is charged: the 9th runs out of budget.
    # kube-apiserver v1.35.8 answers the same (checked with a 1 MB string and a longer needle).
    decision = decide(cost_policy, request_for(configmap("cm", data={"text": "a" * 12_000_000})), StaticClusterData())
    assert decision.status.message == denial(
        "cost-budget", "cost-budget",
        "validation failed due to running out of cost budget, no further validation rules will be run",
    )


def test_cost_budget_of_a_binding(cost_policy, request_for, configmap):
    # 6M characters: about 600k each; the 17th validation exceeds the 10M budget
    decision = decide(cost_policy, request_for(configmap("cm", data={"text": "a" * 6_000_000})), StaticClusterData())
    assert decision.status.message == denial(
        "cost-budget", "cost-budget",
        "validation failed due to running out of cost budget, no further validation rules will be run",
    )
    assert decide(cost_policy, request_for(configmap("cm", data={"text": "a" * 5_000_000})), StaticClusterData()).allowed


def test_a_long_list_within_the_cost_limit_is_evaluated(configmap_rules, request_for, configmap, tmp_path):
    policy = (FIXTURES / "configmap-rules.yaml").read_text().replace(
        "  object.data.size() < 3 ", "object.data.all(k, k != '')"
    )
    # cel-cpp stops after 10,000 comprehension iterations; kube-apiserver only limits cost and
    # admits this (cost about 20k): exact.py evaluates it
    (tmp_path / "long.yaml").write_text(policy)
    decision = decide(load_policy_set([tmp_path / "long.yaml"]), request_for(configmap("cm", data={f"k{i}": "" for i in range(10_001)})), StaticClusterData())
    assert decision.allowed, decision.status.message


def test_an_internal_error_obeys_the_failure_policy(configmap_rules, request_for, configmap, monkeypatch):
    import webhook.policy.dispatcher as dispatcher

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(dispatcher, "validate", broken)
    decision = decide(configmap_rules, request_for(configmap("runtime-error-3")), StaticClusterData())
    assert decision.status.message == (
        "ValidatingAdmissionPolicy 'default-message' denied request: failed to configure policy: internal error: KeyError: 'boom'"
    )
    ignored = next(e for e in decision.evaluations if e.policy == "runtime-error-ignore")
    assert ignored.ignored_error
