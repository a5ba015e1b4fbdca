"""The Kubernetes authorizer library, transcribed from kube-apiserver's tests.

Cases: apiserver v0.35.0 pkg/admission/plugin/cel/condition_test.go (the "test authorizer ..."
cases, with its fakeAuthorizer: allow exactly one AttributesRecord, deny everything else) and
pkg/cel/library/authz.go (argument errors).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from webhook.cel import CelEnvironment, CelEvaluationError
from webhook.cel.library.authorization import (
    AuthzDecision,
    AuthzRequest,
    Decision,
    RequestResource,
    RuleAuthorizer,
    UserInfo,
)
from webhook.cel.library.authz import AUTHORIZER_VARIABLES, authorizer_activation

USER = UserInfo("alice", ("system:authenticated",))
ENDPOINT_CREATE = RequestResource("", "v1", "endpoints", "", "default", "endpoints1")
ENDPOINT_STATUS_UPDATE = RequestResource("", "v1", "endpoints", "status", "default", "endpoints1")


@dataclass(frozen=True)
class AllowMatch:
    """condition_test.go newAuthzAllowMatch: Allow for one exact request, Deny otherwise."""

    match: AuthzRequest

    def authorize(self, request: AuthzRequest) -> AuthzDecision:
        return AuthzDecision(Decision.ALLOW if request == self.match else Decision.DENY)


@dataclass(frozen=True)
class Fixed:
    decision: AuthzDecision

    def authorize(self, request: AuthzRequest) -> AuthzDecision:
        return self.decision


class Raising:
    def authorize(self, request: AuthzRequest) -> AuthzDecision:
        raise ConnectionError("authorization webhook unreachable")


DENY_ALL = Fixed(AuthzDecision(Decision.DENY, "fake reason"))
ERROR_ALL = Fixed(AuthzDecision(Decision.NO_OPINION, "", "fake authz error"))


def resource_request(**fields: object) -> AuthzRequest:
    return AuthzRequest(user=USER, resource_request=True, api_version="*", **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment(dict(AUTHORIZER_VARIABLES))


def evaluate(env: CelEnvironment, expression: str, authorizer: object, resource: RequestResource = ENDPOINT_CREATE):
    return env.compile(expression).evaluate(authorizer_activation(authorizer, USER, resource))  # type: ignore[arg-type]


ALL_FIELDS = resource_request(
    api_group="apps", resource="deployments", subresource="status", namespace="test", name="backend", verb="create",
    field_selector="foo=bar", label_selector="apple=banana",
)

CASES = [
    # test authorizer allow resource check
    pytest.param(
        ["authorizer.group('').resource('endpoints').check('create').allowed()",
         "authorizer.group('').resource('endpoints').check('create').errored()"],
        AllowMatch(resource_request(resource="endpoints", verb="create")), ENDPOINT_CREATE, [True, False],
        id="allow resource check",
    ),
    # test authorizer allow resource check with all fields
    pytest.param(
        ["authorizer.group('apps').resource('deployments').fieldSelector('foo=bar').labelSelector('apple=banana')"
         ".subresource('status').namespace('test').name('backend').check('create').allowed()"],
        AllowMatch(ALL_FIELDS), ENDPOINT_CREATE, [True], id="allow resource check with all fields",
    ),
    # test authorizer not allowed resource check one incorrect field
    pytest.param(
        ["authorizer.group('apps').resource('deployments').subresource('status').namespace('test').name('backend')"
         ".check('create').allowed()"],
        AllowMatch(resource_request(api_group="apps", resource="deployments-xxxx", subresource="status",
                                    namespace="test", name="backend", verb="create")),
        ENDPOINT_CREATE, [False], id="one incorrect field is not allowed",
    ),
    pytest.param(
        ["authorizer.group('').resource('endpoints').check('create').reason() == 'fake reason'"],
        DENY_ALL, ENDPOINT_CREATE, [True], id="reason",
    ),
    pytest.param(
        ["authorizer.group('').resource('endpoints').check('create').errored()",
         "authorizer.group('').resource('endpoints').check('create').error() == 'fake authz error'",
         "authorizer.group('').resource('endpoints').check('create').allowed()"],
        ERROR_ALL, ENDPOINT_CREATE, [True, True, False], id="error",
    ),
    pytest.param(
        ["authorizer.path('/healthz').check('get').allowed()"],
        AllowMatch(AuthzRequest(user=USER, path="/healthz", verb="get")), ENDPOINT_CREATE, [True],
        id="allow path check",
    ),
    pytest.param(
        ["authorizer.path('/healthz').check('get').allowed() == false"], DENY_ALL, ENDPOINT_CREATE, [True],
        id="path check denied",
    ),
    pytest.param(
        ["authorizer.requestResource.check('custom-verb').allowed()"],
        AllowMatch(resource_request(resource="endpoints", namespace="default", name="endpoints1", verb="custom-verb")),
        ENDPOINT_CREATE, [True], id="request resource",
    ),
    pytest.param(
        ["authorizer.requestResource.check('custom-verb').allowed()"],
        AllowMatch(resource_request(resource="endpoints", subresource="status", namespace="default",
                                    name="endpoints1", verb="custom-verb")),
        ENDPOINT_STATUS_UPDATE, [True], id="subresource request resource",
    ),
    pytest.param(
        ["authorizer.serviceAccount('default', 'test-serviceaccount').group('').resource('endpoints')"
         ".namespace('default').name('endpoints1').check('custom-verb').allowed()"],
        AllowMatch(AuthzRequest(
            user=UserInfo("system:serviceaccount:default:test-serviceaccount",
                          ("system:serviceaccounts", "system:serviceaccounts:default")),
            resource_request=True, api_version="*", resource="endpoints", namespace="default", name="endpoints1",
            verb="custom-verb",
        )),
        ENDPOINT_CREATE, [True], id="service account",
    ),
    # validating/validator_test.go style: a denied check negated
    pytest.param(
        ["!authorizer.group('').resource('endpoints').check('create').allowed()"], DENY_ALL, ENDPOINT_CREATE, [True],
        id="negated deny",
    ),
]


@pytest.mark.parametrize(("expressions", "authorizer", "resource", "results"), CASES)
def test_authorizer_expressions(
    env: CelEnvironment, expressions: list[str], authorizer: object, resource: RequestResource, results: list[bool]
) -> None:
    assert [evaluate(env, expression, authorizer, resource) for expression in expressions] == results


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("authorizer.path('').check('get').allowed()", "path must not be empty"),
        ("authorizer.path('  ').check('get').allowed()", "path must not be empty"),
        ("authorizer.group('').resource(' ').check('get').allowed()", "resource must not be empty"),
        ("authorizer.serviceAccount('default', 'Not_Valid').group('').resource('pods').check('get').allowed()",
         "Invalid service account name"),
        ("authorizer.serviceAccount('not.a.label', 'sa').group('').resource('pods').check('get').allowed()",
         "Invalid service account namespace"),
    ],
)
def test_invalid_arguments_are_errors(env: CelEnvironment, expression: str, message: str) -> None:
    with pytest.raises(CelEvaluationError) as caught:
        evaluate(env, expression, DENY_ALL)
    assert caught.value.message == message


def test_selectors_reach_the_authorizer_as_written(env: CelEnvironment) -> None:
    # condition_test.go "with parse failures": the check still runs; parsing is the authorizer's job here.
    seen: list[AuthzRequest] = []

    class Recording:
        def authorize(self, request: AuthzRequest) -> AuthzDecision:
            seen.append(request)
            return AuthzDecision(Decision.ALLOW)

    authorizer = Recording()
    expression = (
        "authorizer.group('apps').resource('deployments').fieldSelector('foo badoperator bar')"
        ".labelSelector('apple badoperator banana').check('list').allowed()"
    )
    assert evaluate(env, expression, authorizer) is True
    assert (seen[0].field_selector, seen[0].label_selector) == ("foo badoperator bar", "apple badoperator banana")


def test_a_raising_authorizer_gives_an_errored_decision(env: CelEnvironment) -> None:
    check = "authorizer.group('').resource('pods').check('get')"
    assert evaluate(env, f"{check}.errored()", Raising()) is True
    assert evaluate(env, f"{check}.allowed()", Raising()) is False
    assert evaluate(env, f"{check}.error()", Raising()) == "ConnectionError: authorization webhook unreachable"


def test_values_print_their_cel_type(env: CelEnvironment) -> None:
    assert str(evaluate(env, "type(authorizer)", DENY_ALL)) == "kubernetes.authorization.Authorizer"
    assert str(evaluate(env, "type(authorizer.requestResource)", DENY_ALL)) == "kubernetes.authorization.ResourceCheck"


RULES = RuleAuthorizer.from_json(
    [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"], "namespaces": ["default"]},
        {"verbs": ["*"], "groups": ["system:masters"], "resources": ["*"]},
        {"verbs": ["get"], "paths": ["/healthz", "/metrics*"]},
        {"verbs": ["update"], "users": ["system:serviceaccount:kube-system:ctrl"], "apiGroups": ["apps"],
         "resources": ["deployments/scale"]},
    ]
)


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (AuthzRequest(USER, "get", resource_request=True, resource="pods", namespace="default"), True),
        (AuthzRequest(USER, "get", resource_request=True, resource="pods", namespace="other"), False),
        (AuthzRequest(USER, "delete", resource_request=True, resource="pods", namespace="default"), False),
        (AuthzRequest(USER, "get", resource_request=True, resource="pods", subresource="log", namespace="default"), True),
        (AuthzRequest(USER, "get", resource_request=True, resource="pods", subresource="exec", namespace="default"), False),
        (AuthzRequest(UserInfo("bob", ("system:masters",)), "delete", resource_request=True, api_group="apps",
                      resource="deployments"), True),
        (AuthzRequest(USER, "get", path="/healthz"), True),
        (AuthzRequest(USER, "get", path="/metrics/cadvisor"), True),
        (AuthzRequest(USER, "post", path="/healthz"), False),
        (AuthzRequest(UserInfo.service_account("kube-system", "ctrl"), "update", resource_request=True,
                      api_group="apps", resource="deployments", subresource="scale"), True),
    ],
)
def test_rule_authorizer_allows_only_listed_requests(request_: AuthzRequest, allowed: bool) -> None:
    decision = RULES.authorize(request_)
    assert decision.decision is (Decision.ALLOW if allowed else Decision.NO_OPINION)


def test_rule_authorizer_through_cel(env: CelEnvironment) -> None:
    assert evaluate(env, "authorizer.group('').resource('pods').namespace('default').check('get').allowed()", RULES)
    assert not evaluate(env, "authorizer.group('').resource('pods').namespace('default').check('delete').allowed()", RULES)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"resources": ["pods"]}], "authorizer rule 0: 'verbs' is required"),
        ([{"verbs": ["get"], "resource": ["pods"]}], "authorizer rule 0: unknown field(s) ['resource']"),
    ],
)
def test_rule_authorizer_rejects_malformed_rules(rules: list[dict], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        RuleAuthorizer.from_json(rules)
    assert str(caught.value) == message
