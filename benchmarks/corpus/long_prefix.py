"""A race reached only after a long thread-local prefix: a batch flushed after many steps.

A logger builds a batch of records in a list of its own (thread-local work, but every append
is a visible operation: a switch point), then flushes it by adding its size to a shared total
without a lock. Another thread records one event straight away, also without a lock. The lost
update needs that event to land inside the flush, which comes only after 30 appends of local
work: a search that switches often has long since let the short thread finish. The fixed
version updates the total under a lock.
"""

from __future__ import annotations

import threading
from typing import Callable, List

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = True
BATCH = 30


class Sink:
    def __init__(self) -> None:
        self.total = 0
        self.lock = threading.Lock()


def setup() -> Sink:
    return Sink()


def batcher(locked: bool) -> Callable[[Sink], None]:
    def log(s: Sink) -> None:
        batch: List[int] = []
        for i in range(BATCH):
            batch.append(i)
        if locked:
            with s.lock:
                s.total += len(batch)
        else:
            s.total += len(batch)

    return log


def single(locked: bool) -> Callable[[Sink], None]:
    def event(s: Sink) -> None:
        if locked:
            with s.lock:
                s.total += 1
        else:
            s.total += 1

    return event


def check(s: Sink) -> bool:
    return s.total == BATCH + 1


BUGGY = [batcher(False), single(False)]
FIXED = [batcher(True), single(True)]
