"""SCTBench's stack: a pusher and a popper share an array stack whose ``top`` and slot are
updated in two steps, without a lock.

The popper reads ``top``, then the slot below it; a push that has moved ``top`` but not yet
written the slot (or a pop racing another pop's decrement) gives a torn read: a popped value
that was never pushed. The fixed version pushes and pops under a lock.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Stack:
    def __init__(self) -> None:
        self.slots: List[Optional[int]] = [None] * 4
        self.top = 0
        self.popped: List[Optional[int]] = []
        self.lock = threading.Lock()


def setup() -> Stack:
    return Stack()


def _push(s: Stack, v: int) -> None:
    t = s.top
    s.top = t + 1
    s.slots[t] = v


def _pop(s: Stack) -> None:
    t = s.top
    if t > 0:
        s.top = t - 1
        s.popped.append(s.slots[t - 1])
        s.slots[t - 1] = None


def pusher(locked: bool) -> Callable[[Stack], None]:
    def run(s: Stack) -> None:
        for v in (7, 8):
            if locked:
                with s.lock:
                    _push(s, v)
            else:
                _push(s, v)

    return run


def popper(locked: bool) -> Callable[[Stack], None]:
    def run(s: Stack) -> None:
        for _ in range(2):
            if locked:
                with s.lock:
                    _pop(s)
            else:
                _pop(s)

    return run


def check(s: Stack) -> bool:
    return None not in s.popped


BUGGY = [pusher(False), popper(False)]
FIXED = [pusher(True), popper(True)]
