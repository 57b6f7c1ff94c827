"""Small test programs several test files share: one definition each."""

from __future__ import annotations

import threading
from typing import Callable


class Counter:
    """A shared counter."""

    def __init__(self) -> None:
        self.value = 0


def racy() -> None:
    """Two threads increment without a lock; nothing is checked, so every schedule passes."""
    c = Counter()

    def inc() -> None:
        c.value += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def lost_update() -> None:
    """Two threads increment without a lock; the total is checked."""
    c = Counter()

    def inc() -> None:
        c.value += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


def locked_counter() -> None:
    """The fixed version: the increment holds a lock."""
    c = Counter()
    lock = threading.Lock()

    def inc() -> None:
        with lock:
            c.value += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


def locked_counter_of(threads: int) -> Callable[[], None]:
    """``locked_counter`` with ``threads`` threads (DPOR's classes: ``threads!``)."""

    def body() -> None:
        c = Counter()
        lock = threading.Lock()

        def inc() -> None:
            with lock:
                c.value += 1

        ts = [threading.Thread(target=inc) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == threads

    return body
