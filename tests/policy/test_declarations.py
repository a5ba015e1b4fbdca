"""request and namespaceObject are declared object types: unknown fields fail to compile."""

from __future__ import annotations

import pytest

from webhook.policy.declarations import undefined_fields


@pytest.mark.parametrize(
    "expression",
    [
        "request.operation == 'CREATE' && request.userInfo.groups.exists(g, g == 'x')",
        "request.kind.group == '' && request.requestResource.resource == 'pods'",
        "has(request.namespace) && request.options.fieldManager == 'kubectl'",  # options is dyn
        "request.userInfo.extra['k'][0] == 'v'",
        "request.?subResource.orValue('') == ''",  # optional selection is not checked here
        "namespaceObject.metadata.labels['env'] == 'prod' && namespaceObject.status.phase == 'Active'",
        "object.request.anything == 1",  # a field named request elsewhere
    ],
)
def test_declared_fields_compile(expression):
    assert undefined_fields(expression) == ""


def test_undeclared_fields_are_reported_where_cel_go_reports_them():
    assert undefined_fields("request.operations == 'CREATE' || namespaceObject.kind == 'x'") == (
        "ERROR: <input>:1:8: undefined field 'operations'\n"
        " | request.operations == 'CREATE' || namespaceObject.kind == 'x'\n"
        " | .......^\n"
        "ERROR: <input>:1:50: undefined field 'kind'\n"
        " | request.operations == 'CREATE' || namespaceObject.kind == 'x'\n"
        " | .................................................^"
    )
