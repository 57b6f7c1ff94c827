"""A work-stealing deque in the style of the CHESS case studies: the owner pops at the tail,
a thief steals at the head, and the last item can be taken twice.

The owner pushes two tasks and pops both; a thief tries to steal one. Each side checks the
other's index and then moves its own, without the owner's pop re-checking after publishing its
new tail (the fence-and-recheck a real implementation needs). Both then take the same task.
The fixed version takes a lock around pop and steal.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Deque:
    def __init__(self) -> None:
        self.items: List[Optional[int]] = [None] * 4
        self.head = 0
        self.tail = 0
        self.taken: List[int] = []
        self.lock = threading.Lock()


def setup() -> Deque:
    return Deque()


def _pop(d: Deque) -> None:
    t = d.tail - 1
    d.tail = t
    if d.head <= t:
        d.taken.append(d.items[t])  # type: ignore[arg-type]
    else:
        d.tail = t + 1


def _steal(d: Deque) -> None:
    h = d.head
    if h < d.tail:
        d.taken.append(d.items[h])  # type: ignore[arg-type]
        d.head = h + 1


def owner(locked: bool) -> Callable[[Deque], None]:
    def work(d: Deque) -> None:
        for task in (10, 20):
            d.items[d.tail] = task
            d.tail += 1
        for _ in range(2):
            if locked:
                with d.lock:
                    _pop(d)
            else:
                _pop(d)

    return work


def thief(locked: bool) -> Callable[[Deque], None]:
    def work(d: Deque) -> None:
        if locked:
            with d.lock:
                _steal(d)
        else:
            _steal(d)

    return work


def check(d: Deque) -> bool:
    return len(d.taken) == len(set(d.taken))


BUGGY = [owner(False), thief(False)]
FIXED = [owner(True), thief(True)]
