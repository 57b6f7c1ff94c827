"""Room under the recursion limit for the harness's own work at a switch point.

A thread of the program under test can reach a switch point a few frames under the recursion
limit: a deep recursion, or code that recurses until ``RecursionError`` on purpose and catches
it. The harness's work there (the strategy's choice, DPOR's analysis of the step, the recorder)
takes a dozen frames more; without room it raised ``RecursionError`` inside the scheduler, and
the exploration ended in an internal error instead of a verdict. When a point is reached with
fewer than ``LOW`` frames left, the thread's remaining depth is raised by ``HEADROOM`` while the
harness works, and lowered by as much before the thread goes on: the program itself never
gets deeper than it would without interleave.

The counter is the thread state's own (greenlet keeps one per greenlet and swaps it at every
switch), so the room given to one virtual thread is never seen by another. Where the thread
state's layout is not known and checked, there is no room to give, and a switch point that
close to the limit still raises.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Callable, Dict, Optional

from ..versions import CURRENT
from .tstate import _get_tstate, _recursion_words, read_here_and_deeper

#: Frames added to the thread's remaining depth while the harness works at a switch point.
HEADROOM = 250
#: With fewer frames than this left, a switch point asks for room.
LOW = 150

_counters: Dict[int, Optional[Any]] = {}  # per thread state: its remaining depth, checked once


class _CountedUp:
    """The remaining depth where the thread state counts depth up (3.10), read and set as one."""

    __slots__ = ("depth",)

    def __init__(self, depth: Any) -> None:
        self.depth = depth

    @property
    def value(self) -> int:
        return sys.getrecursionlimit() - int(self.depth.value)

    @value.setter
    def value(self, remaining: int) -> None:
        self.depth.value = sys.getrecursionlimit() - remaining


def _depth_counter(base: int) -> Optional[_CountedUp]:
    offset = CURRENT.depth_counter_offset
    if offset is None:
        return None
    depth = ctypes.c_int.from_address(base + offset)
    here, deeper = read_here_and_deeper(lambda: int(depth.value))
    return _CountedUp(depth) if deeper == here + 3 and 0 < here < sys.getrecursionlimit() else None


def remaining_depth() -> Optional[Any]:
    """This OS thread's remaining recursion depth (``.value``, settable), or None where it is unknown."""
    base = _get_tstate()
    if base not in _counters:
        words = _recursion_words(base)
        _counters[base] = words[0] if words is not None else _depth_counter(base)
    return _counters[base]


def with_room(remaining: Any, work: Callable[..., None], *args: Any) -> None:
    """Run ``work(*args)`` with ``HEADROOM`` more frames left, taken back before the thread goes on."""
    remaining.value += HEADROOM
    try:
        work(*args)
    finally:
        remaining.value -= HEADROOM
