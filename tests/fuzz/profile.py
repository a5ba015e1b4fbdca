"""How long the hypothesis properties run: bounded for CI by default; ``tools/fuzz`` sets
$CELGATE_FUZZ_EXAMPLES to run each property longer."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz_settings(ci_examples: int) -> settings:
    """Settings for a property: ``ci_examples`` examples, or $CELGATE_FUZZ_EXAMPLES when set."""
    return settings(
        max_examples=int(os.environ.get("CELGATE_FUZZ_EXAMPLES", ci_examples)),
        deadline=None,  # targets.timed_decide holds each decision to DEADLINE_SECONDS of CPU instead
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        database=None,
    )
