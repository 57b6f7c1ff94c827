"""Producer-consumer with a missed signal: the consumer tests the flag outside the lock and
then waits; the producer sets the flag and notifies in between, so the notification finds no
waiter and the consumer waits forever (a deadlock). The fixed consumer tests the flag under
the condition's lock, in a loop.
"""

from __future__ import annotations

import threading
from typing import Callable, List

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Channel:
    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.ready = False
        self.item = 0
        self.got: List[int] = []


def setup() -> Channel:
    return Channel()


def producer(c: Channel) -> None:
    c.item = 42
    with c.cond:
        c.ready = True
        c.cond.notify()


def consumer_buggy(c: Channel) -> None:
    if not c.ready:
        with c.cond:
            c.cond.wait()
    c.got.append(c.item)


def consumer_fixed(c: Channel) -> None:
    with c.cond:
        while not c.ready:
            c.cond.wait()
    c.got.append(c.item)


def check(c: Channel) -> bool:
    return c.got == [42]


BUGGY: List[Callable[[Channel], None]] = [consumer_buggy, producer]
FIXED: List[Callable[[Channel], None]] = [consumer_fixed, producer]
