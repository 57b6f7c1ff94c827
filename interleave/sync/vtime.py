"""Virtual time: sleep costs no wall time and clocks read the execution's own clock."""

from __future__ import annotations

import sys
import time as _time

from ..runtime.operation import OpKind
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


def sleep(seconds: float) -> None:
    """Virtual ``time.sleep``: a timed park that only the clock can end."""
    ex = running()
    if ex is None:
        return _real_sleep(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    ex.sync_point(OpKind.SLEEP, None, sys._getframe(1), True, seconds)
    ex.park(None, float(seconds))


def monotonic() -> float:
    """Virtual ``time.monotonic``."""
    ex = running()
    return _real_monotonic() if ex is None else MONOTONIC_START + ex.now


def perf_counter() -> float:
    """Virtual ``time.perf_counter``."""
    ex = running()
    return _real_perf_counter() if ex is None else MONOTONIC_START + ex.now


def time() -> float:
    """Virtual ``time.time``."""
    ex = running()
    return _real_time() if ex is None else EPOCH + ex.now


def monotonic_ns() -> int:
    """Virtual ``time.monotonic_ns``."""
    ex = running()
    return _real_monotonic_ns() if ex is None else int((MONOTONIC_START + ex.now) * 1e9)


def perf_counter_ns() -> int:
    """Virtual ``time.perf_counter_ns``."""
    ex = running()
    return _real_perf_counter_ns() if ex is None else int((MONOTONIC_START + ex.now) * 1e9)


def time_ns() -> int:
    """Virtual ``time.time_ns``."""
    ex = running()
    return _real_time_ns() if ex is None else int((EPOCH + ex.now) * 1e9)
