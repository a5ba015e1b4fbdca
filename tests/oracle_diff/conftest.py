"""The oracle fixture: tests here compare celgate with cel-go as kube-apiserver v1.35 runs it.

The oracle is built on first use (tests/oracle/build.sh, cached under ~/.cache/celgate/oracle);
without a Go toolchain these tests skip, saying so. A failing build is a test error, not a skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle_process import OracleUnavailable, oracle_binary


@pytest.fixture(scope="session")
def oracle() -> Path:
    try:
        return oracle_binary()
    except OracleUnavailable as exc:
        pytest.skip(f"cel-go oracle not available: {exc}")
