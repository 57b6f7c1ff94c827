"""SCTBench's circular buffer: a producer and a consumer share a ring and an unlocked count.

The producer stores up to three items, the consumer takes what it finds; both update ``count``
with a read-modify-write and no lock, so one update can be lost and the count no longer says how
many items the ring holds. The fixed version updates the ring and the count under a lock.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False
SIZE = 2


class Ring:
    def __init__(self) -> None:
        self.buf: List[Optional[int]] = [None] * SIZE
        self.head = 0
        self.tail = 0
        self.count = 0
        self.put = 0
        self.got: List[int] = []
        self.lock = threading.Lock()


def setup() -> Ring:
    return Ring()


def _produce(r: Ring, v: int) -> None:
    if r.count < SIZE:
        r.buf[r.tail] = v
        r.tail = (r.tail + 1) % SIZE
        r.put += 1
        r.count += 1


def _consume(r: Ring) -> None:
    if r.count > 0:
        r.got.append(r.buf[r.head])  # type: ignore[arg-type]
        r.head = (r.head + 1) % SIZE
        r.count -= 1


def producer(locked: bool) -> Callable[[Ring], None]:
    def run(r: Ring) -> None:
        for v in range(3):
            if locked:
                with r.lock:
                    _produce(r, v)
            else:
                _produce(r, v)

    return run


def consumer(locked: bool) -> Callable[[Ring], None]:
    def run(r: Ring) -> None:
        for _ in range(3):
            if locked:
                with r.lock:
                    _consume(r)
            else:
                _consume(r)

    return run


def check(r: Ring) -> bool:
    return r.count == r.put - len(r.got)


BUGGY = [producer(False), consumer(False)]
FIXED = [producer(True), consumer(True)]
