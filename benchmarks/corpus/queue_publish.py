"""A queue that publishes a slot before filling it: torn reads of a half-done enqueue.

The enqueuer bumps ``tail`` and only then stores the item; a dequeuer that sees the new tail
reads a slot that is still empty. The fixed enqueuer stores the item first and publishes the
tail after.
"""

from __future__ import annotations

from typing import Callable, List, Optional

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Queue:
    def __init__(self) -> None:
        self.slots: List[Optional[int]] = [None] * 4
        self.head = 0
        self.tail = 0
        self.got: List[Optional[int]] = []


def setup() -> Queue:
    return Queue()


def enqueue_buggy(q: Queue) -> None:
    for v in (1, 2):
        t = q.tail
        q.tail = t + 1
        q.slots[t] = v


def enqueue_fixed(q: Queue) -> None:
    for v in (1, 2):
        t = q.tail
        q.slots[t] = v
        q.tail = t + 1


def dequeue(q: Queue) -> None:
    for _ in range(2):
        h = q.head
        if h < q.tail:
            q.got.append(q.slots[h])
            q.head = h + 1


def check(q: Queue) -> bool:
    return None not in q.got


BUGGY: List[Callable[[Queue], None]] = [enqueue_buggy, dequeue]
FIXED: List[Callable[[Queue], None]] = [enqueue_fixed, dequeue]
