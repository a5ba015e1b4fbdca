"""The list of libraries the VAP environment enables, in kube-apiserver's order (environment/base.go)."""

from __future__ import annotations

from webhook.cel.library import (
    CelLibrary,
    authz,
    cidr,
    ext_lists,
    format,
    ip,
    lists,
    ordering,
    quantity,
    regex,
    semver,
    sets,
    urls,
)

LIBRARIES: list[CelLibrary] = [
    urls.LIBRARY,
    regex.LIBRARY,
    lists.LIBRARY,
    authz.LIBRARY,
    quantity.LIBRARY,
    sets.LIBRARY,
    ip.LIBRARY,
    cidr.LIBRARY,
    format.LIBRARY,
    semver.LIBRARY,
    ext_lists.LIBRARY,  # cel-go ext.Lists(ext.ListsVersion(3)) (base.go, 1.34)
    ordering.LIBRARY,  # isGreaterThan/isLessThan/compareTo of quantity and semver, declared once for cel-cpp
]
