"""The 3x3 unlocked counter: three threads each add 1 three times without a lock.

Nine increments; lost updates make the total smaller, but most lossy schedules end at 7 or 8.
The minimum reachable total is 2, and it needs one particular schedule (a thread reads 0 and is
preempted before its write while the others do nearly all their work; its stale write then
wipes that out, and so on). The check fails only at that minimum. The fixed version locks
each increment, so the total is always 9.
"""

from __future__ import annotations

import threading
from typing import Callable, List

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = True


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def setup() -> Counter:
    return Counter()


def add(c: Counter) -> None:
    for _ in range(3):
        c.value += 1


def add_locked(c: Counter) -> None:
    for _ in range(3):
        with c.lock:
            c.value += 1


def check(c: Counter) -> bool:
    return c.value > 2


BUGGY: List[Callable[[Counter], None]] = [add, add, add]
FIXED: List[Callable[[Counter], None]] = [add_locked, add_locked, add_locked]
