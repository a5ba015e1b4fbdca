"""The declared shapes of ``request`` and ``namespaceObject``, checked at compile time.

kube-apiserver declares both as object types (admission/plugin/cel/compile.go
BuildRequestType, BuildNamespaceType), so ``request.operations`` is a compile error
("undefined field 'operations'") there. celgate's environment declares them ``dyn``; this
check restores the compile error for field selections written out in the expression.
"""

from __future__ import annotations

from typing import Mapping, Union

from webhook.cel.errors import error_text, position_of
from webhook.cel.lexer import tokens

Fields = Mapping[str, Union["Fields", None]]  # None: a leaf (scalar, list, map or dyn)

_GVK: Fields = {"group": None, "version": None, "kind": None}
_GVR: Fields = {"group": None, "version": None, "resource": None}
REQUEST: Fields = {
    "kind": _GVK,
    "resource": _GVR,
    "subResource": None,
    "requestKind": _GVK,
    "requestResource": _GVR,
    "requestSubResource": None,
    "name": None,
    "namespace": None,
    "operation": None,
    "userInfo": {"username": None, "uid": None, "groups": None, "extra": None},
    "dryRun": None,
    "options": None,
}
NAMESPACE: Fields = {
    "metadata": {
        # "UID" (sic): upstream declares the field with this spelling.
        "name": None, "generateName": None, "namespace": None, "labels": None, "annotations": None,
        "UID": None, "creationTimestamp": None, "deletionGracePeriodSeconds": None,
        "deletionTimestamp": None, "generation": None, "resourceVersion": None, "finalizers": None,
    },
    "spec": {"finalizers": None},
    "status": {"conditions": None, "phase": None},
}
DECLARED: Mapping[str, Fields] = {"request": REQUEST, "namespaceObject": NAMESPACE}


def undefined_fields(expression: str) -> str:
    """cel-go's errors for selections of undeclared fields, or "" when there are none."""
    items = list(tokens(expression))
    errors: list[str] = []
    for i, token in enumerate(items):
        fields = DECLARED.get(token.text) if token.kind == "ident" else None
        if fields is None or (i > 0 and items[i - 1].text == "."):
            continue
        position = i + 1
        while fields is not None and position + 1 < len(items) and items[position].text == ".":
            name = items[position + 1]
            if name.kind != "ident" or (position + 2 < len(items) and items[position + 2].text == "("):
                break  # an optional selection (.?x) or a method call: not a field of the type
            if name.text not in fields:
                line, column = position_of(expression, items[position].start)
                errors.append(error_text(expression, line, column, f"undefined field '{name.text}'"))
                break
            fields = fields[name.text]
            position += 2
    return "\n".join(errors)
