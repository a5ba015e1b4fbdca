"""Kubernetes name rules, worded as k8s.io/apimachinery/pkg/util/validation words them.

Each function returns the list of problems (empty when the value is valid). DNS names are the
format library's checks (webhook/cel/library/apimachinery_validation.py); qualified names and
label values are worded here as create-time validation words them, which differs from the
``content`` package the format library follows.
"""

from __future__ import annotations

import re

from webhook.cel.library.apimachinery_validation import is_dns1035_label, is_dns1123_subdomain

_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"

_QUALIFIED_NAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    f"validation is '{_QUALIFIED_NAME}')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    f"'12345', regex used for validation is '{_LABEL_VALUE}')"
)


def _max_len(length: int) -> str:
    return f"must be no more than {length} characters"


dns1123_subdomain = is_dns1123_subdomain
dns1035_label = is_dns1035_label


def qualified_name(value: str) -> list[str]:
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        problems = ["prefix part " + p for p in dns1123_subdomain(prefix)]
        if problems:
            return problems + _name_part(name)
    else:
        return [
            "a qualified name " + _QUALIFIED_NAME_MESSAGE
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    return _name_part(name)


def _name_part(name: str) -> list[str]:
    if not name:
        return ["name part must be non-empty"]
    problems = []
    if len(name) > 63:
        problems.append("name part " + _max_len(63))
    if not re.fullmatch(_QUALIFIED_NAME, name):
        problems.append("name part " + _QUALIFIED_NAME_MESSAGE)
    return problems


def label_value(value: str) -> list[str]:
    problems = []
    if len(value) > 63:
        problems.append(_max_len(63))
    if not re.fullmatch(_LABEL_VALUE, value):
        problems.append(_LABEL_VALUE_MESSAGE)
    return problems


def path_segment_name(value: str) -> list[str]:
    # k8s.io/apimachinery/pkg/api/validation/path/name.go
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


_CEL_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_CEL_RESERVED = frozenset(
    "true false null in as break const continue else for function if import let loop package "
    "namespace return var void while".split()
)


def is_cel_identifier(name: str) -> bool:
    return bool(_CEL_IDENT.fullmatch(name)) and name not in _CEL_RESERVED
