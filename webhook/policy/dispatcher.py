"""The admission decision for one request: every matching policy, binding and param.

Follows k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go (v1.35): match
the policy, then each binding; collect params; validate; route each failed validation
through the binding's validationActions (Deny -> denial, Warn -> warning, Audit -> the
validation_failure audit annotation); configuration errors obey failurePolicy. The request is
denied with the FIRST denial's message. Policies are visited in name order and bindings in
name order (upstream's order is its informer's, i.e. unspecified).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from webhook.policy.attributes import AdmissionAttributes
from webhook.cel.library import authz
from webhook.cel.library.authorization import RequestResource, RuleAuthorizer, UserInfo
from webhook.policy.activation import admission_request, namespace_object, request_namespace
from webhook.policy.cluster_data import ClusterData, WithShippedParams
from webhook.policy.compiler import CompiledPolicy
from webhook.policy.decision import AdmissionDecision, AdmissionStatus, ErrorType, PolicyCheck, PolicyEvaluation
from webhook.policy.loader import PolicySet
from webhook.policy.matching import MatchError, is_policy_resource, match_resources
from webhook.policy.model import Binding
from webhook.policy.params import ParamError, collect_params, param_kind_error, param_label
from webhook.policy.filters import RequestContext
from webhook.policy.validator import Decision, Inputs, ValidateResult, validate

VALIDATION_FAILURE_ANNOTATION = "validation.policy.admission.k8s.io/validation_failure"
MAX_AUDIT_ANNOTATION_VALUE_LENGTH = 10 * 1024

# kube-apiserver always has an authorizer; without one every check has no opinion (allowed()
# is false), like RBAC without a matching rule.
_NO_OPINION = RuleAuthorizer()

# validating/policy_decision.go reasonToCode; anything else is 422 too.
REASON_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


def go_json(value: Any) -> str:
    """encoding/json output: compact, with <, >, & escaped as Go does by default."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


class _Outcome:
    """What the dispatcher accumulates across policies."""

    def __init__(self) -> None:
        self.context = RequestContext()
        # Equal requests and namespace objects are one object, so caches keyed by identity share.
        self.requests: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.namespaces: dict[str, tuple[Any, Any]] = {}
        self.authorizer_entries: dict[str, Any] | None = None
        self.denials: list[tuple[str, str | None, str, str]] = []  # policy, binding, message, reason
        self.warnings: list[str] = []
        self.annotations: dict[str, str] = {}
        self.evaluations: list[PolicyEvaluation] = []

    def annotate(self, key: str, value: str) -> None:
        # admission.Attributes.AddAnnotation never overwrites: the first value stays.
        self.annotations.setdefault(key, value)

    def configuration_error(self, policy: CompiledPolicy, binding: Binding | None, error: str) -> None:
        failure_policy = policy.policy.failure_policy
        prefix = "failed to configure binding" if binding is not None else "failed to configure policy"
        message = f"{prefix}: {error}"
        if failure_policy == "Fail":
            self.denials.append((policy.name, binding.name if binding else None, message, ""))
        self.evaluations.append(PolicyEvaluation(
            policy.name, binding.name if binding else "", None,
            "error" if failure_policy == "Fail" else "admit", message,
            ignored_error=failure_policy == "Ignore",
        ))


def decide(
    policy_set: PolicySet, attributes: AdmissionAttributes, cluster: ClusterData, authorizer: object | None = None
) -> AdmissionDecision:
    started = time.perf_counter()
    outcome = _Outcome()
    if policy_set.params:
        cluster = WithShippedParams(cluster, policy_set.params)
    if not is_policy_resource(attributes):
        for name in policy_set.names():
            compiled = policy_set.policies[name]
            try:
                _dispatch_policy(compiled, policy_set, attributes, cluster, authorizer, outcome)
            except Exception as exc:  # noqa: BLE001 - a defect must deny (Fail) or be recorded, never crash
                outcome.configuration_error(compiled, None, f"internal error: {type(exc).__name__}: {exc}")
    return _decision(outcome, time.perf_counter() - started)


def _dispatch_policy(
    compiled: CompiledPolicy, policy_set: PolicySet, attributes: AdmissionAttributes,
    cluster: ClusterData, authorizer: object | None, outcome: _Outcome,
) -> None:
    policy = compiled.policy
    bindings = policy_set.bindings_for(policy.name)
    if not bindings or policy.match_constraints is None:
        return  # kube-apiserver has no hook for a policy without bindings
    try:
        matched = match_resources(policy.match_constraints, attributes, cluster)
    except MatchError as exc:
        outcome.configuration_error(compiled, None, str(exc))
        return
    if not matched.matches:
        outcome.evaluations.append(PolicyEvaluation(policy.name, "", None, "skip", "matchConstraints do not match"))
        return
    if policy.param_kind is not None:
        kind_error = param_kind_error(policy.param_kind)
        if kind_error is not None:
            outcome.configuration_error(compiled, None, kind_error)
            return
    assert matched.resource is not None and matched.kind is not None
    request = _request(outcome, attributes, matched.resource, matched.kind)
    match_request = _request(outcome, attributes, attributes.resource, matched.kind)
    collected: dict[str, list[str]] = {}
    authorizer_entries: dict[str, Any] = {}
    if compiled.reads_authorizer:
        if outcome.authorizer_entries is None:
            outcome.authorizer_entries = _authorizer_entries(authorizer, attributes)
        authorizer_entries = outcome.authorizer_entries
    namespace_name = request_namespace(attributes)
    # An unknown namespace leaves namespaceObject null (kube-apiserver would fail the request).
    if namespace_name not in outcome.namespaces:
        namespace = cluster.get_namespace(namespace_name) if namespace_name else None
        outcome.namespaces[namespace_name] = (namespace_object(namespace), _without_type_meta(namespace))
    visible_namespace, full_namespace = outcome.namespaces[namespace_name]
    for binding in bindings:
        try:
            if binding.match_resources is not None and not match_resources(binding.match_resources, attributes, cluster).matches:
                outcome.evaluations.append(PolicyEvaluation(policy.name, binding.name, None, "skip", "matchResources do not match"))
                continue
            params = collect_params(policy, binding, attributes.namespace, cluster)
        except (MatchError, ParamError) as exc:
            outcome.configuration_error(compiled, binding, str(exc))
            continue
        if not params:
            outcome.evaluations.append(PolicyEvaluation(policy.name, binding.name, None, "skip", "no params found (parameterNotFoundAction: Allow)"))
            continue
        for param in params:
            inputs = Inputs(
                object=attributes.object,
                old_object=attributes.old_object,
                request=request,
                match_request=match_request,
                params=param,
                namespace_object=visible_namespace,
                namespace_full=full_namespace,
                authorizer=authorizer_entries,
                context=outcome.context,
            )
            started = time.perf_counter()
            result = validate(compiled, inputs)
            _apply(compiled, binding, param_label(param), result, time.perf_counter() - started, outcome, collected)
    for key, values in collected.items():
        outcome.annotate(f"{policy.name}/{key}", values[0] if len(values) == 1 else ", ".join(values))


def _request(outcome: _Outcome, attributes: AdmissionAttributes, resource: Any, kind: Any) -> dict[str, Any]:
    key = (resource, kind)
    request = outcome.requests.get(key)
    if request is None:
        request = outcome.requests[key] = admission_request(attributes, resource, kind)
    return request


def _apply(
    compiled: CompiledPolicy, binding: Binding, param: str | None, result: ValidateResult,
    elapsed: float, outcome: _Outcome, collected: dict[str, list[str]],
) -> None:
    policy = compiled.policy
    if result.skipped_by is not None:
        outcome.evaluations.append(PolicyEvaluation(policy.name, binding.name, param, "skip", result.skipped_by, elapsed_seconds=elapsed))
        return
    denied = [d for d in result.decisions if d.action == "deny"]
    ignored = [d for d in result.decisions if d.evaluation == "error" and d.action == "admit"]
    first = denied[0] if denied else (ignored[0] if ignored else None)
    checks: list[PolicyCheck] = []
    for index, decision in enumerate(result.decisions):
        if decision.action != "deny":
            if decision.evaluation == "error":
                checks.append(PolicyCheck("allow", _error_type(decision.evaluation, decision.message), decision.elapsed))
            continue
        for action in binding.validation_actions:
            checks.append(PolicyCheck(action.lower(), _error_type(decision.evaluation, decision.message), decision.elapsed))  # type: ignore[arg-type]
            if action == "Deny":
                outcome.denials.append((policy.name, binding.name, decision.message, decision.reason))
            elif action == "Audit":
                # v1.35 publishes one failure per annotation key, and the first one stays.
                outcome.annotate(VALIDATION_FAILURE_ANNOTATION, go_json([{
                    "message": decision.message,
                    "policy": binding.policy_name,
                    "binding": binding.name,
                    "expressionIndex": index,
                    "validationActions": list(binding.validation_actions),
                }]))
            elif action == "Warn":
                outcome.warnings.append(
                    f"Validation failed for ValidatingAdmissionPolicy '{policy.name}' with binding '{binding.name}': {decision.message}"
                )
    audit_error: str | None = None
    for annotation in result.audit_annotations:
        if annotation.action == "publish":
            value = annotation.value.encode()[:MAX_AUDIT_ANNOTATION_VALUE_LENGTH].decode(errors="ignore")
            values = collected.setdefault(annotation.key, [])
            if value not in values:
                values.append(value)
        elif annotation.action == "error":
            outcome.denials.append((policy.name, binding.name, annotation.error, ""))
            checks.append(PolicyCheck("deny", _error_type("error", annotation.error), annotation.elapsed))
            audit_error = audit_error or annotation.error
    evaluation = _evaluation(policy.name, binding, param, first, audit_error, elapsed)
    outcome.evaluations.append(dataclasses.replace(evaluation, checks=tuple(checks)) if checks else evaluation)


def _error_type(evaluation: str, message: str) -> ErrorType:
    """validating/errors.go ErrorType: only an admitting evaluation is no_error, so a plain
    failed validation (evaluation deny) is counted as invalid_error, as kube-apiserver does."""
    if evaluation == "admit":
        return "no_error"
    if message.startswith("compilation"):
        return "compile_error"
    if message.startswith("validation failed due to running out of cost budget"):
        return "out_of_budget"
    return "invalid_error"


def _evaluation(
    policy: str, binding: Binding, param: str | None, first: Decision | None, audit_error: str | None, elapsed: float
) -> PolicyEvaluation:
    if first is None and audit_error is None:
        return PolicyEvaluation(policy, binding.name, param, "admit", elapsed_seconds=elapsed)
    if first is None:
        return PolicyEvaluation(policy, binding.name, param, "error", audit_error or "", elapsed_seconds=elapsed)
    if first.action == "admit":  # error ignored under failurePolicy Ignore
        return PolicyEvaluation(policy, binding.name, param, "admit", first.message, elapsed_seconds=elapsed,
                                validation_index=first.index, ignored_error=True)
    if first.evaluation == "error":
        result = "error"
    elif "Deny" in binding.validation_actions:
        result = "deny"
    elif "Warn" in binding.validation_actions:
        result = "warn"
    else:
        result = "audit"
    return PolicyEvaluation(policy, binding.name, param, result, first.message, first.reason, elapsed,  # type: ignore[arg-type]
                            validation_index=first.index)


def _decision(outcome: _Outcome, elapsed: float) -> AdmissionDecision:
    status = None
    if outcome.denials:
        policy, binding, message, reason = outcome.denials[0]
        if binding is not None:
            text = f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: {message}"
        else:
            text = f"ValidatingAdmissionPolicy '{policy}' denied request: {message}"
        reason = reason or "Invalid"  # dispatcher.go: an empty reason becomes Invalid
        status = AdmissionStatus(REASON_CODES.get(reason, 422), reason, text)
    return AdmissionDecision(
        allowed=not outcome.denials,
        status=status,
        # the apiserver's warning recorder drops a warning identical to an earlier one
        warnings=tuple(dict.fromkeys(outcome.warnings)),
        audit_annotations=dict(outcome.annotations),
        evaluations=tuple(outcome.evaluations),
        elapsed_seconds=elapsed,
    )


def _without_type_meta(namespace: dict[str, Any] | None) -> dict[str, Any] | None:
    # Objects from an informer's lister carry no apiVersion/kind.
    if namespace is None:
        return None
    return {k: v for k, v in namespace.items() if k not in ("apiVersion", "kind")}


def _authorizer_entries(authorizer: object | None, attributes: AdmissionAttributes) -> dict[str, Any]:
    info = attributes.user_info
    user = UserInfo(username=info.username, groups=info.groups, uid=info.uid, extra=dict(info.extra))
    resource = RequestResource(
        group=attributes.resource.group, version=attributes.resource.version, resource=attributes.resource.resource,
        subresource=attributes.sub_resource, namespace=attributes.namespace, name=attributes.name,
    )
    return authz.authorizer_activation(authorizer or _NO_OPINION, user, resource)  # type: ignore[arg-type]
