"""How long the hypothesis properties run: bounded for CI by default; ``tools/fuzz`` sets
$CELGATE_FUZZ_EXAMPLES to run each property longer."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz_settings(ci_examples: int) -> settings:
    """Settings for a property: ``ci_examples`` examples, or $CELGATE_FUZZ_EXAMPLES when set."""
    longer = "CELGATE_FUZZ_EXAMPLES" in os.environ
    return settings(
        max_examples=int(os.environ.get("CELGATE_FUZZ_EXAMPLES", ci_examples)),
        # the same examples on every CI run (a red run is then reproducible); tools/fuzz explores anew
        derandomize=not longer,
        deadline=None,  # targets.timed_decide holds each decision to DEADLINE_SECONDS of CPU instead
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        database=None,
    )
