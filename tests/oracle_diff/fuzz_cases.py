"""Seeded differential cases: expressions with their variables, and whole policies."""

from __future__ import annotations

import random
from typing import Any, Iterator

import fuzz_objects as objects
from fuzz_expressions import ExpressionGenerator

# Quantities are compared, not returned: celgate prints them in a form of its choosing (compat.py D16).
RESULT_TYPES = ["bool"] * 6 + ["int", "uint", "double", "string", "string", "list_int", "list_string", "map", "optional_string"]


def expression_case(rng: random.Random) -> dict[str, Any]:
    obj = objects.workload(rng)
    operation = rng.choice(["CREATE", "CREATE", "UPDATE"])
    namespace = obj["metadata"].get("namespace")
    bindings: dict[str, Any] = {"object": obj, "request": objects.request(rng, obj, operation)}
    if operation == "UPDATE":
        bindings["oldObject"] = objects.workload(rng) if rng.random() < 0.3 else obj
    if rng.random() < 0.8:
        bindings["params"] = objects.params(rng)
    if isinstance(namespace, str) and rng.random() < 0.9:
        bindings["namespaceObject"] = objects.namespace_object(rng, namespace)
    generator = ExpressionGenerator(rng, obj["kind"], max_depth=rng.choice([2, 3, 3, 4]))
    variables = {"limit": rng.choice(objects.INTS), "names": rng.sample(objects.NAMES, 2), "flag": rng.random() < 0.5}
    bindings["variables"] = variables
    generator.variables = {"limit": "int", "names": "list_string", "flag": "bool"}
    return {"expr": generator.generate(rng.choice(RESULT_TYPES)), "vars": bindings}


def expression_cases(seed: int, count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        yield expression_case(rng)


_RESOURCES = {"Pod": "pods", "Deployment": "deployments", "CronJob": "cronjobs"}
_VARIABLE_TYPES = ["bool", "int", "string", "list_string", "containers"]


def policy_case(rng: random.Random, index: int) -> dict[str, Any]:
    """A whole policy (variables, matchConditions, validations with messages, audit annotations)
    and one request to evaluate it for."""
    obj = objects.workload(rng)
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = _RESOURCES[obj["kind"]]
    operation = rng.choice(["CREATE", "CREATE", "UPDATE"])
    namespace_name = obj["metadata"].get("namespace") if isinstance(obj["metadata"].get("namespace"), str) else "default"
    obj["metadata"]["namespace"] = namespace_name
    with_params = rng.random() < 0.5
    generator = ExpressionGenerator(rng, obj["kind"], max_depth=rng.choice([2, 3]), policy=True)
    generator.no_params = not with_params

    variables = []
    if rng.random() < 0.5:
        # the Pod Security policies' shape: every expression reads the pod spec through a variable
        variables.append({"name": "podSpec", "expression": generator.spec})
        generator.spec = "variables.podSpec"
    for n in range(rng.randint(0, 3)):
        type_ = rng.choice(_VARIABLE_TYPES)
        variables.append({"name": f"v{n}", "expression": generator.generate(type_)})
        generator.variables[f"v{n}"] = type_
    spec: dict[str, Any] = {
        "matchConstraints": {"resourceRules": [{
            "apiGroups": [group], "apiVersions": [version], "resources": [resource], "operations": ["CREATE", "UPDATE"],
        }]},
        "validations": [],
    }
    if rng.random() < 0.7:
        spec["failurePolicy"] = rng.choice(["Fail", "Ignore"])
    if with_params:
        spec["paramKind"] = {"apiVersion": "policy.example.com/v1", "kind": "Limits"}
    if variables:
        spec["variables"] = variables
    if rng.random() < 0.4:
        spec["matchConditions"] = [{"name": f"condition-{n}", "expression": generator.generate("bool")} for n in range(rng.randint(1, 2))]
    for _ in range(rng.randint(1, 3)):
        validation: dict[str, Any] = {"expression": generator.generate("bool")}
        if rng.random() < 0.4:
            validation["message"] = rng.choice(["not allowed", "  padded message  "])
        if rng.random() < 0.5:
            validation["messageExpression"] = generator.generate("string", 2)
        if rng.random() < 0.3:
            validation["reason"] = rng.choice(["Forbidden", "Invalid", "RequestEntityTooLarge"])
        spec["validations"].append(validation)
    if rng.random() < 0.4:
        spec["auditAnnotations"] = [
            {"key": f"key-{n}", "valueExpression": rng.choice([generator.generate("string", 2), f"{generator.generate('bool', 1)} ? 'yes' : null"])}
            for n in range(rng.randint(1, 2))
        ]
    request = objects.request(rng, obj, operation)
    return {
        "policy": {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                   "metadata": {"name": f"fuzz-{index}"}, "spec": spec},
        "object": obj,
        "oldObject": (objects.workload(rng) if rng.random() < 0.2 else obj) if operation == "UPDATE" else None,
        "params": objects.params(rng) if with_params else None,
        "namespace": objects.namespace(rng, namespace_name),
        "operation": operation,
        "kind": request["kind"], "resource": request["resource"], "subResource": "",
        "name": obj["metadata"].get("name", ""), "namespaceName": namespace_name,
        "userInfo": request["userInfo"], "options": request["options"], "dryRun": request["dryRun"],
    }


def policy_cases(seed: int, count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        yield policy_case(rng, index)
