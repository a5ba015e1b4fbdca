"""The list of libraries the VAP environment enables, in kube-apiserver's order (environment/base.go)."""

from __future__ import annotations

import importlib

from webhook.cel.library import CelLibrary

_MODULES = (
    "urls",
    "regex",
    "lists",
    "authz",
    "quantity",
    "sets",
    "ip",
    "cidr",
    "format",
    "semver",
    # cel-go ext.Lists(ext.ListsVersion(3)) (base.go, 1.34)
    "ext_lists",
    # isGreaterThan/isLessThan/compareTo of quantity and semver (cel-cpp needs them declared once)
    "ordering",
)


def _load() -> list[CelLibrary]:
    libraries = []
    for name in _MODULES:
        try:
            module = importlib.import_module(f"webhook.cel.library.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"webhook.cel.library.{name}":
                continue  # library not written yet
            raise
        libraries.append(module.LIBRARY)
    return libraries


LIBRARIES: list[CelLibrary] = _load()
