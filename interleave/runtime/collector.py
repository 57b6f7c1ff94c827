"""The garbage collector's own schedule, kept between executions while the automatic collector is off.

A run turns the automatic collector off (a finalizer must not run at a moment no schedule
controls) and collects between executions instead, when CPython would have. CPython 3.10 to
3.13 collect the youngest generation once it holds more new objects than its threshold, an
older one once it has been through enough younger collections, and the oldest only when the
objects moved into it since its last collection are at least a quarter of those it held after
it. Without that last condition a run in a large process (a pytest session: hundreds of
thousands of objects) would pay a full collection, tens of milliseconds, every hundred
executions, where the automatic collector pays one when the heap has grown by a quarter.
"""

from __future__ import annotations

import gc
from typing import Optional


class _LongLived:
    """What the oldest generation's condition needs, as CPython keeps it (estimated from outside)."""

    def __init__(self) -> None:
        self.total: Optional[int] = None  # objects in the oldest generation after its last collection
        self.pending = 0  # objects moved into it since
        self.full_seen = -1  # its collections then: another one since resets both


_LONG_LIVED = _LongLived()


def collect_when_due() -> int:
    """Collect the generation the automatic collector would collect now, if any; which one (-1: none)."""
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if not t0 or c0 <= t0:
        return -1
    if c1 <= t1:
        gc.collect(0)
        return 0
    state = _LONG_LIVED
    full = gc.get_stats()[2]["collections"]
    if full != state.full_seen:
        # A full collection outside our count (the automatic collector between runs, an explicit
        # gc.collect()): what it left is measured when it is next needed.
        state.full_seen = full
        state.total = None
        state.pending = 0
    if c2 > t2:
        if state.total is None:
            state.total = len(gc.get_objects(2))
        if state.pending >= state.total // 4:
            gc.collect(2)
            state.total = len(gc.get_objects(2))
            state.pending = 0
            state.full_seen = gc.get_stats()[2]["collections"]
            return 2
    moving = len(gc.get_objects(0)) + len(gc.get_objects(1))
    state.pending += max(0, moving - gc.collect(1))
    return 1
