"""Fault injection against a real ``celgate serve`` (tests/server_process.py): every test here is
marked ``faults`` and runs in tests/run's bounded faults step, not in the default pytest run."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.faults)
