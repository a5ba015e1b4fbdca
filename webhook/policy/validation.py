"""Create-time validation of policies and bindings, as kube-apiserver validates them.

Rules and wording follow pkg/apis/admissionregistration/validation/validation.go and
apimachinery's field errors (``spec.x: Required value``, ``Invalid value: "v": why``,
``Unsupported value: "v": supported values: "a", "b"``). The API server's defaults
(failurePolicy Fail, matchPolicy Equivalent, empty selectors) are applied first, as on create.
Shapes (unknown fields, wrong types) are checked before, in shape.py; CEL compilation is in
compiler.py.
"""

from __future__ import annotations

import json
from typing import Any

from webhook.policy import names

Problem = tuple[str, str]  # (field path, message)

def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def required(path: str, detail: str = "") -> Problem:
    return path, "Required value" + (f": {detail}" if detail else "")


def invalid(path: str, value: Any, detail: str) -> Problem:
    shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _json(value)
    return path, f"Invalid value: {shown}: {detail}"


def not_supported(path: str, value: Any, supported: list[str]) -> Problem:
    listed = ", ".join(json.dumps(s) for s in supported)
    return path, f"Unsupported value: {json.dumps(value, ensure_ascii=False)}: supported values: {listed}"


def duplicate(path: str, value: Any) -> Problem:
    return path, f"Duplicate value: {json.dumps(value, ensure_ascii=False)}"


def forbidden(path: str, detail: str) -> Problem:
    return path, f"Forbidden: {detail}"


def apply_defaults(obj: dict[str, Any], *, binding: bool) -> None:
    """The API server's defaulting on create (pkg/apis/admissionregistration/v1/defaults.go)."""
    if obj.get("spec") is None:
        obj["spec"] = {}
    spec = obj["spec"]
    if not binding:
        spec.setdefault("failurePolicy", "Fail")
    for key in ("matchResources",) if binding else ("matchConstraints",):
        match = spec.get(key)
        if isinstance(match, dict):
            match.setdefault("matchPolicy", "Equivalent")
            match.setdefault("namespaceSelector", {})
            match.setdefault("objectSelector", {})
            for rules in ("resourceRules", "excludeResourceRules"):
                for rule in match.get(rules) or ():
                    if isinstance(rule, dict):
                        rule.setdefault("scope", "*")


def _object_name(obj: dict[str, Any]) -> list[Problem]:
    metadata = obj.get("metadata") or {}
    name, generate = metadata.get("name") or "", metadata.get("generateName") or ""
    if not name and not generate:
        return [required("metadata.name", "name or generateName is required")]
    if not name:
        return [required("metadata.name", "generateName cannot be resolved offline; set metadata.name")]
    return [invalid("metadata.name", name, m) for m in names.dns1123_subdomain(name)]


def _label_selector(selector: dict[str, Any] | None, path: str) -> list[Problem]:
    # k8s.io/apimachinery/pkg/apis/meta/v1/validation ValidateLabelSelector
    if selector is None:
        return []
    problems: list[Problem] = []
    for i, requirement in enumerate(selector.get("matchExpressions") or ()):
        where = f"{path}.matchExpressions[{i}]"
        operator, values = requirement.get("operator", ""), requirement.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                problems.append(required(f"{where}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                problems.append(forbidden(f"{where}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            problems.append(invalid(f"{where}.operator", operator, "not a valid selector operator"))
        problems.extend(invalid(f"{where}.key", requirement.get("key", ""), m) for m in names.qualified_name(requirement.get("key", "")))
        for j, value in enumerate(values):
            problems.extend(invalid(f"{where}.values[{j}]", value, m) for m in names.label_value(value))
    for key, value in (selector.get("matchLabels") or {}).items():
        problems.extend(invalid(f"{path}.matchLabels", key, m) for m in names.qualified_name(key))
        problems.extend(invalid(f"{path}.matchLabels", value, m) for m in names.label_value(value))
    return problems


_OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]


def _resources(resources: list[str], path: str) -> list[Problem]:
    problems: list[Problem] = []
    if not resources:
        problems.append(required(path))
    wildcard_sub: set[str] = set()
    wildcard_res: set[str] = set()
    double = single = plain = False
    for i, res_sub in enumerate(resources):
        if res_sub == "":
            problems.append(required(f"{path}[{i}]"))
            continue
        double = double or res_sub == "*/*"
        single = single or res_sub == "*"
        if "/" not in res_sub:
            plain = res_sub != "*"
            continue
        res, sub = res_sub.split("/", 1)
        if res in wildcard_sub:
            problems.append(invalid(f"{path}[{i}]", res_sub, f"if '{res}/*' is present, must not specify {res_sub}"))
        if sub in wildcard_res:
            problems.append(invalid(f"{path}[{i}]", res_sub, f"if '*/{sub}' is present, must not specify {res_sub}"))
        if sub == "*":
            wildcard_sub.add(res)
        if res == "*":
            wildcard_res.add(sub)
    if len(resources) > 1 and double:
        problems.append(invalid(path, resources, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        problems.append(invalid(path, resources, "if '*' is present, must not specify other resources without subresources"))
    return problems


def _rule(rule: dict[str, Any], path: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, name in enumerate(rule.get("resourceNames") or ()):
        problems.extend(invalid(f"{path}.resourceNames[{i}]", name, m) for m in names.path_segment_name(name))
        if name in seen:
            problems.append(duplicate(f"{path}.resourceNames[{i}]", name))
        seen.add(name)
    operations = rule.get("operations") or []
    if not operations:
        problems.append(required(f"{path}.operations"))
    if len(operations) > 1 and "*" in operations:
        problems.append(invalid(f"{path}.operations", operations, "if '*' is present, must not specify other operations"))
    for i, operation in enumerate(operations):
        if operation not in _OPERATIONS:
            problems.append(not_supported(f"{path}.operations[{i}]", operation, _OPERATIONS))
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if not groups:
        problems.append(required(f"{path}.apiGroups"))
    if len(groups) > 1 and "*" in groups:
        problems.append(invalid(f"{path}.apiGroups", groups, "if '*' is present, must not specify other API groups"))
    if not versions:
        problems.append(required(f"{path}.apiVersions"))
    if len(versions) > 1 and "*" in versions:
        problems.append(invalid(f"{path}.apiVersions", versions, "if '*' is present, must not specify other API versions"))
    problems.extend(required(f"{path}.apiVersions[{i}]") for i, v in enumerate(versions) if v == "")
    problems.extend(_resources(rule.get("resources") or [], f"{path}.resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in ("*", "Cluster", "Namespaced"):
        problems.append(not_supported(f"{path}.scope", scope, ["*", "Cluster", "Namespaced"]))
    return problems


def _match_resources(match: dict[str, Any] | None, path: str) -> list[Problem]:
    if match is None:
        return []
    problems: list[Problem] = []
    policy = match.get("matchPolicy")
    if policy not in ("Exact", "Equivalent"):
        problems.append(not_supported(f"{path}.matchPolicy", policy, ["Equivalent", "Exact"]))
    problems.extend(_label_selector(match.get("namespaceSelector"), f"{path}.namespaceSelector"))
    problems.extend(_label_selector(match.get("objectSelector"), f"{path}.objectSelector"))
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(match.get(key) or ()):
            problems.extend(_rule(rule, f"{path}.{key}[{i}]"))
    return problems


def _param_kind(param_kind: dict[str, Any], path: str) -> list[Problem]:
    problems: list[Problem] = []
    api_version, kind = param_kind.get("apiVersion") or "", param_kind.get("kind") or ""
    if not api_version:
        problems.append(required(f"{path}.apiVersion"))
    elif api_version.count("/") > 1:
        problems.append(invalid(f"{path}.apiVersion", api_version, f"unexpected GroupVersion string: {api_version}"))
    else:
        group, _, version = api_version.rpartition("/")
        if group and names.dns1123_subdomain(group):
            problems.append(invalid(f"{path}.apiVersion", group, ",".join(names.dns1123_subdomain(group))))
        if not version:
            problems.append(invalid(f"{path}.apiVersion", api_version, "version must be specified"))
        elif names.dns1035_label(version):
            problems.append(invalid(f"{path}.apiVersion", version, ",".join(names.dns1035_label(version))))
    if not kind:
        problems.append(required(f"{path}.kind"))
    elif names.dns1035_label(kind.lower()):
        problems.append(invalid(f"{path}.kind", kind, "may have mixed case, but should otherwise match: " + ",".join(names.dns1035_label(kind.lower()))))
    return problems


def _has_newlines(text: str) -> bool:
    return "\n" in text or "\r" in text


_REASONS = ["Forbidden", "Invalid", "RequestEntityTooLarge"]


def validate_policy(obj: dict[str, Any]) -> list[Problem]:
    """Every create-time problem of a (defaulted) ValidatingAdmissionPolicy, CEL excepted."""
    problems = _object_name(obj)
    spec = obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name") or ""
    failure = spec.get("failurePolicy")
    if failure not in ("Fail", "Ignore"):
        problems.append(not_supported("spec.failurePolicy", failure, ["Fail", "Ignore"]))
    if spec.get("paramKind") is not None:
        problems.extend(_param_kind(spec["paramKind"], "spec.paramKind"))
    if spec.get("matchConstraints") is None:
        problems.append(required("spec.matchConstraints"))
    else:
        problems.extend(_match_resources(spec["matchConstraints"], "spec.matchConstraints"))
        if not spec["matchConstraints"].get("resourceRules"):
            problems.append(required("spec.matchConstraints.resourceRules"))
    conditions = spec.get("matchConditions") or []
    if len(conditions) > 64:
        problems.append(("spec.matchConditions", f"Too many: {len(conditions)}: must have at most 64 items"))
    seen: set[str] = set()
    for i, condition in enumerate(conditions):
        path = f"spec.matchConditions[{i}]"
        if not (condition.get("expression") or "").strip():
            problems.append(required(f"{path}.expression"))
        condition_name = condition.get("name") or ""
        if not condition_name:
            problems.append(required(f"{path}.name"))
        else:
            problems.extend(invalid(f"{path}.name", condition_name, m) for m in names.qualified_name(condition_name))
            if condition_name in seen:
                problems.append(duplicate(f"{path}.name", condition_name))
            seen.add(condition_name)
    for i, variable in enumerate(spec.get("variables") or ()):
        path = f"spec.variables[{i}]"
        variable_name = variable.get("name") or ""
        if not variable_name.strip():
            problems.append(required(f"{path}.name", "name is not specified"))
        elif not names.is_cel_identifier(variable_name):
            problems.append(invalid(f"{path}.name", variable_name, "name is not a valid CEL identifier"))
        if not (variable.get("expression") or "").strip():
            problems.append(required(f"{path}.expression", "expression is not specified"))
    validations, audits = spec.get("validations") or [], spec.get("auditAnnotations") or []
    if not validations and not audits:
        problems.append(required("spec.validations", "validations or auditAnnotations must contain at least one item"))
        problems.append(required("spec.auditAnnotations", "validations or auditAnnotations must contain at least one item"))
        return problems
    for i, validation in enumerate(validations):
        problems.extend(_validation(validation, f"spec.validations[{i}]"))
    if len(audits) > 20:
        problems.append(("spec.auditAnnotations", "Invalid value: must not have more than 20 auditAnnotations"))
    keys: set[str] = set()
    for i, audit in enumerate(audits):
        path = f"spec.auditAnnotations[{i}]"
        key = audit.get("key") or ""
        if name:
            problems.extend(invalid(f"{path}.key", f"{name}/{key}", m) for m in names.qualified_name(f"{name}/{key}"))
        value = (audit.get("valueExpression") or "").strip()
        if not value:
            problems.append(required(f"{path}.valueExpression", "valueExpression is not specified"))
        elif len(value.encode()) > 5 * 1024:
            problems.append(required(f"{path}.valueExpression", "must not exceed 5120 bytes in length"))
        if key in keys:
            problems.append(duplicate(f"{path}.key", key))
        keys.add(key)
    return problems


def _validation(validation: dict[str, Any], path: str) -> list[Problem]:
    problems: list[Problem] = []
    expression = validation.get("expression") or ""
    message = validation.get("message") or ""
    message_expression = validation.get("messageExpression") or ""
    if not expression.strip():
        problems.append(required(f"{path}.expression", "expression is not specified"))
    if message_expression and not message_expression.strip():
        problems.append(invalid(f"{path}.messageExpression", message_expression, "must be non-empty if specified"))
    if message and not message.strip():
        problems.append(invalid(f"{path}.message", message, "message must be non-empty if specified"))
    elif _has_newlines(message.strip()):
        problems.append(invalid(f"{path}.message", message, "message must not contain line breaks"))
    reason = validation.get("reason")
    if reason is not None and reason not in _REASONS:
        problems.append(not_supported(f"{path}.reason", reason, _REASONS))
    return problems


def validate_binding(obj: dict[str, Any]) -> list[Problem]:
    """Every create-time problem of a (defaulted) ValidatingAdmissionPolicyBinding."""
    problems = _object_name(obj)
    spec = obj.get("spec") or {}
    policy_name = spec.get("policyName") or ""
    if not policy_name:
        problems.append(required("spec.policyName"))
    else:
        problems.extend(invalid("spec.policyName", policy_name, m) for m in names.dns1123_subdomain(policy_name))
    problems.extend(_param_ref(spec.get("paramRef"), "spec.paramRef"))
    # "matchResouces" (sic): kube-apiserver's validation.go spells the path this way.
    problems.extend(_match_resources(spec.get("matchResources"), "spec.matchResouces"))
    actions = spec.get("validationActions") or []
    seen: set[str] = set()
    for i, action in enumerate(actions):
        if action not in ("Audit", "Deny", "Warn"):
            problems.append(not_supported(f"spec.validationActions[{i}]", action, ["Audit", "Deny", "Warn"]))
        if action in seen:
            problems.append(duplicate(f"spec.validationActions[{i}]", action))
        seen.add(action)
    if "Deny" in seen and "Warn" in seen:
        problems.append(invalid(
            "spec.validationActions", actions,
            "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ))
    if not seen:
        problems.append(required("spec.validationActions", "at least one validation action is required"))
    return problems


def _param_ref(ref: dict[str, Any] | None, path: str) -> list[Problem]:
    if ref is None:
        return []
    problems: list[Problem] = []
    name, selector = ref.get("name") or "", ref.get("selector")
    if name:
        problems.extend(invalid(f"{path}.name", name, m) for m in names.path_segment_name(name))
        if selector is not None:
            problems.append(forbidden(f"{path}.name", "name and selector are mutually exclusive"))
    if selector is not None:
        problems.extend(_label_selector(selector, f"{path}.selector"))
        if name:
            problems.append(forbidden(f"{path}.selector", "name and selector are mutually exclusive"))
    if not name and selector is None:
        problems.append(required(path, "one of name or selector must be specified"))
    action = ref.get("parameterNotFoundAction")
    if not action:
        problems.append(required(f"{path}.parameterNotFoundAction"))
    elif action not in ("Deny", "Allow"):
        problems.append(not_supported(f"{path}.parameterNotFoundAction", action, ["Deny", "Allow"]))
    return problems
