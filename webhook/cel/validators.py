"""Placeholder: compile-time AST validators (being written)."""

from __future__ import annotations

from typing import Any


def validate_ast(ast: Any, expression: str) -> None:
    return None
