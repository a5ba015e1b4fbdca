"""webhook/serving.py: how ``--max-in-flight`` is split between the worker processes."""

from __future__ import annotations

import pytest

from webhook.serving import default_max_in_flight, worker_share


def test_the_default_is_32_per_worker() -> None:
    assert default_max_in_flight(1) == 256
    assert default_max_in_flight(2) == 512


@pytest.mark.parametrize(("limit", "workers", "share"), [
    (64, 2, 32),
    (5, 2, 3),  # rounded up: the workers together admit at least the limit
    (1, 4, 1),
    (0, 2, None),  # 0: no limit
    (None, 2, None),
])
def test_each_worker_sheds_past_its_share(limit: int | None, workers: int, share: int | None) -> None:
    assert worker_share(limit, workers) == share
