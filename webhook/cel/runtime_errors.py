"""Placeholder: cel-cpp runtime error text -> cel-go wording (being written)."""

from __future__ import annotations


def translate(message: str) -> str:
    from webhook.cel.environment import strip_status

    return strip_status(message)
