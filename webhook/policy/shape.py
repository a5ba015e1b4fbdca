"""The shape of policy and binding documents: known fields and their JSON types.

Checked before anything else, the way kubectl's strict field validation refuses a document
with a misspelt or mistyped field, so later code can trust the structure.
"""

from __future__ import annotations

import json
from typing import Any

Problem = tuple[str, str]  # (field path, message)

_SELECTOR = {"matchLabels": {str: str}, "matchExpressions": [{"key": str, "operator": str, "values": [str]}]}
_RULE = {
    "apiGroups": [str], "apiVersions": [str], "resources": [str], "operations": [str],
    "scope": str, "resourceNames": [str],
}
_MATCH_RESOURCES = {
    "namespaceSelector": _SELECTOR, "objectSelector": _SELECTOR, "resourceRules": [_RULE],
    "excludeResourceRules": [_RULE], "matchPolicy": str,
}
_METADATA = {"name": str, "generateName": str, "labels": {str: str}, "annotations": {str: str}, "*": Any}
POLICY_SHAPE = {
    "apiVersion": str, "kind": str, "metadata": _METADATA, "status": Any,
    "spec": {
        "paramKind": {"apiVersion": str, "kind": str},
        "matchConstraints": _MATCH_RESOURCES,
        "validations": [{"expression": str, "message": str, "messageExpression": str, "reason": str}],
        "failurePolicy": str,
        "auditAnnotations": [{"key": str, "valueExpression": str}],
        "matchConditions": [{"name": str, "expression": str}],
        "variables": [{"name": str, "expression": str}],
    },
}
BINDING_SHAPE = {
    "apiVersion": str, "kind": str, "metadata": _METADATA, "status": Any,
    "spec": {
        "policyName": str,
        "paramRef": {"name": str, "namespace": str, "selector": _SELECTOR, "parameterNotFoundAction": str},
        "matchResources": _MATCH_RESOURCES,
        "validationActions": [str],
    },
}
_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", list: "list", dict: "object"}




def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _item(value: Any, shape: Any, path: str) -> list[Problem]:
    """An item of a list or map: null there is no absent field but a hole later code would trip on."""
    if value is None and shape is not Any:
        kind = _TYPE_NAMES.get(shape, "list") if not isinstance(shape, dict) else "object"
        return [(path, f"Invalid value: null: must be a{'n' if kind[0] in 'aeiou' else ''} {kind}")]
    return check_shape(value, shape, path)


def check_shape(value: Any, shape: Any, path: str) -> list[Problem]:
    """Unknown fields and wrong types, so later code can trust the structure."""
    if shape is Any or value is None:
        return []
    if isinstance(shape, dict) and len(shape) == 1 and next(iter(shape)) is str:
        if not isinstance(value, dict):
            return [(path, f"Invalid value: {_json(value)}: must be an object")]
        inner = shape[str]
        return [p for k, v in value.items() for p in _item(v, inner, f"{path}[{k}]" if path else k)]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [(path or "<document>", f"Invalid value: {_json(value)}: must be an object")]
        problems: list[Problem] = []
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key not in shape and "*" not in shape:
                problems.append((child, "unknown field"))
                continue
            problems.extend(check_shape(item, shape.get(key, Any), child))
        return problems
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [(path, f"Invalid value: {_json(value)}: must be a list")]
        return [p for i, item in enumerate(value) for p in _item(item, shape[0], f"{path}[{i}]")]
    if not isinstance(value, shape) or (shape is int and isinstance(value, bool)):
        return [(path, f"Invalid value: {_json(value)}: must be a {_TYPE_NAMES[shape]}")]
    return []
