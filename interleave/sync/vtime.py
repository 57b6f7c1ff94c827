"""Virtual time: sleep costs no wall time and clocks read the execution's own clock."""

from __future__ import annotations

import sys
import time as _time
from typing import Any

from ..runtime.operation import OpKind
from .lock import check_timeout
from .running import running

_real_sleep = _time.sleep
_real_monotonic = _time.monotonic
_real_time = _time.time
_real_perf_counter = _time.perf_counter
_real_monotonic_ns = _time.monotonic_ns
_real_time_ns = _time.time_ns
_real_perf_counter_ns = _time.perf_counter_ns

MONOTONIC_START = 1000.0
EPOCH = 1_700_000_000.0
#: A thread that has read the clock this many times in a row while no timeout moved virtual time
#: is polling a deadline: each of its further reads moves its clock on by ``TICK``. Frozen
#: time would make such a loop spin for ever (``concurrent.futures.as_completed`` with a timeout
#: that has run out computes ``end_time - monotonic()``, gets exactly 0, and polls again), while
#: a real clock never reads the same value twice. Up to this many reads see time stand still.
POLL_READS = 64
#: About a microsecond, a power of two so that clock differences stay exact (1.7e9 + TICK is
#: still a different float: ``time.time()`` moves too).
TICK = 2.0 ** -20


def _read(ex: Any) -> float:
    """The virtual time the current thread reads (its clock: the execution's, or a poll's ticks past it)."""
    cur = ex.current
    now = ex.now
    last = cur.clock
    if now > last:
        cur.clock = now
        cur.clock_repeats = 0
        return now
    cur.clock_repeats += 1
    if cur.clock_repeats < POLL_READS:
        return last
    cur.clock = last + TICK
    return cur.clock


def sleep(seconds: float) -> None:
    """Virtual ``time.sleep``: a timed park that only the clock can end."""
    ex = running()
    if ex is None:
        return _real_sleep(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    check_timeout(True, seconds)  # NaN, or too long for the platform: as time.sleep raises
    ex.sync_point(OpKind.SLEEP, None, sys._getframe(1), True, seconds)
    ex.park(None, float(seconds))


def monotonic() -> float:
    """Virtual ``time.monotonic``."""
    ex = running()
    return _real_monotonic() if ex is None else MONOTONIC_START + _read(ex)


def perf_counter() -> float:
    """Virtual ``time.perf_counter``."""
    ex = running()
    return _real_perf_counter() if ex is None else MONOTONIC_START + _read(ex)


def time() -> float:
    """Virtual ``time.time``."""
    ex = running()
    return _real_time() if ex is None else EPOCH + _read(ex)


def monotonic_ns() -> int:
    """Virtual ``time.monotonic_ns``."""
    ex = running()
    return _real_monotonic_ns() if ex is None else int((MONOTONIC_START + _read(ex)) * 1e9)


def perf_counter_ns() -> int:
    """Virtual ``time.perf_counter_ns``."""
    ex = running()
    return _real_perf_counter_ns() if ex is None else int((MONOTONIC_START + _read(ex)) * 1e9)


def time_ns() -> int:
    """Virtual ``time.time_ns``."""
    ex = running()
    return _real_time_ns() if ex is None else int((EPOCH + _read(ex)) * 1e9)
