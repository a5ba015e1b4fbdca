"""The shipped Pod Security policies, loaded (and compiled) once per test session."""

from __future__ import annotations

import pytest
from pss_admission import POD_SECURITY

from webhook.policy.loader import PolicySet, load_policy_set


@pytest.fixture(scope="session")
def pss_policies() -> PolicySet:
    return load_policy_set([str(POD_SECURITY)])
