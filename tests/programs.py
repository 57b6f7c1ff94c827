"""Small test programs several test files share: one definition each."""

from __future__ import annotations

import threading
from typing import Callable, List, Tuple


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


def locked_increments(k: int, iters: int) -> Callable[[], None]:
    """k threads, each ``iters`` times: with lock: counter.value += 1 (DPOR's classes: (k*iters)! / iters!^k)."""

    def body() -> None:
        c = Counter()
        lock = threading.Lock()

        def work() -> None:
            for _ in range(iters):
                with lock:
                    c.value += 1

        ts = [threading.Thread(target=work) for _ in range(k)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == k * iters

    return body


class Pair:
    """Published with two plain writes, read back with two plain reads."""

    def __init__(self) -> None:
        self.a = 0
        self.b = 0


def three_setters_one_checker() -> None:
    # Most races here are between setters' writes: reversing one changes nothing a read sees.
    p = Pair()
    seen: List[Tuple[int, int]] = []

    def setter() -> None:
        p.a = 1
        p.b = -1

    def checker() -> None:
        seen.append((p.a, p.b))

    ts = [threading.Thread(target=setter) for _ in range(3)] + [threading.Thread(target=checker)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen[0] in ((0, 0), (1, -1)), seen
