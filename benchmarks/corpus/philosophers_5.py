"""Dining philosophers, five threads: each takes its left fork, then its right one.

The deadlock needs every philosopher to take its first fork before any takes its second: one
specific order among all five threads. The fixed version breaks the cycle the classic way (the
last philosopher takes its forks in the other order, so forks are always taken in index order).
"""

from __future__ import annotations

import threading
from typing import Callable, List

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = True
N = 5


class Table:
    def __init__(self) -> None:
        self.forks = [threading.Lock() for _ in range(N)]
        self.ate = [False] * N


def setup() -> Table:
    return Table()


def philosopher(i: int, ordered: bool) -> Callable[[Table], None]:
    first, second = i, (i + 1) % N
    if ordered and second < first:
        first, second = second, first

    def dine(t: Table) -> None:
        with t.forks[first]:
            with t.forks[second]:
                t.ate[i] = True  # each philosopher its own slot: no data race

    dine.__name__ = f"philosopher_{i}"
    return dine


def check(t: Table) -> bool:
    return all(t.ate)


BUGGY: List[Callable[[Table], None]] = [philosopher(i, False) for i in range(N)]
FIXED: List[Callable[[Table], None]] = [philosopher(i, True) for i in range(N)]
