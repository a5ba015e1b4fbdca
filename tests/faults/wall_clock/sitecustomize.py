"""Loaded by a ``celgate serve`` started with this directory first on PYTHONPATH (libfaketime is
not on this host): the process's wall clock — ``time.time``, ``time.time_ns`` and
``datetime.datetime.now``/``utcnow`` — runs ``$CELGATE_FAKE_CLOCK_FILE``'s number of seconds
ahead (negative: behind), re-read every 50 ms, so a test jumps the clock of the running server by
writing that file. The monotonic clocks (``time.monotonic``, ``perf_counter``; asyncio's and
``threading.Event.wait``'s timeouts) are left alone, as a real wall-clock jump leaves them."""

from __future__ import annotations

import datetime as _datetime
import os
import threading
import time as _time

_FILE = os.environ.get("CELGATE_FAKE_CLOCK_FILE")

if _FILE:
    _offset = [0.0]
    _real_time, _real_time_ns = _time.time, _time.time_ns

    def _follow() -> None:
        while True:
            try:
                with open(_FILE) as handle:
                    _offset[0] = float(handle.read().strip() or 0)
            except (OSError, ValueError):
                pass
            _time.sleep(0.05)

    def _start() -> None:
        threading.Thread(target=_follow, name="fake-clock", daemon=True).start()

    _start()
    os.register_at_fork(after_in_child=_start)  # celgate's workers are forked: threads are not inherited
    _time.time = lambda: _real_time() + _offset[0]
    _time.time_ns = lambda: _real_time_ns() + int(_offset[0] * 1e9)

    class _ShiftedDatetime(_datetime.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return _datetime.datetime.fromtimestamp(_time.time(), tz)

        @classmethod
        def utcnow(cls):  # type: ignore[override]
            return _datetime.datetime.fromtimestamp(_time.time(), _datetime.timezone.utc).replace(tzinfo=None)

    _datetime.datetime = _ShiftedDatetime  # type: ignore[misc]
