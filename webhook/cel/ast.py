"""Placeholder: decoding of cel-cpp's serialized CheckedExpr (being written)."""

from __future__ import annotations

from typing import Any

CheckedAst = Any


def decode_checked(serialized: bytes, expression: str) -> CheckedAst | None:
    return None
