"""Where the policies shipped with celgate live (``policies/`` beside the package)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CELGATE_POLICIES"


def shipped_policies_dir() -> Path:
    """``$CELGATE_POLICIES``, else ``policies/`` of the source tree or image celgate runs from."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "policies"
