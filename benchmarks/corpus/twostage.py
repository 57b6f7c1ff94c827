"""SCTBench's twostage: a value published in two stages, each under its own lock.

The writer sets ``first`` under lock 1, then derives ``second = first + 1`` under lock 2. A
reader that sees the first stage done under lock 1 reads ``second`` under lock 2 and expects the
derived value. The gap between the writer's two critical sections is the bug: the reader must
come in exactly there. Two readers and a writer that first does some unrelated set-up work make
the window narrow. The fixed writer holds lock 1 across both stages.
"""

from __future__ import annotations

import threading
from typing import Callable, List

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Stages:
    def __init__(self) -> None:
        self.m1 = threading.Lock()
        self.m2 = threading.Lock()
        self.first = 0
        self.second = 0
        self.config: List[int] = []
        self.bad = False


def setup() -> Stages:
    return Stages()


def writer(fixed: bool) -> Callable[[Stages], None]:
    def write(s: Stages) -> None:
        for i in range(4):
            s.config.append(i)
        if fixed:
            with s.m1:
                s.first = 1
                with s.m2:
                    s.second = s.first + 1
            return
        with s.m1:
            s.first = 1
        with s.m2:
            s.second = s.first + 1

    return write


def reader(s: Stages) -> None:
    with s.m1:
        seen = s.first
    if seen == 1:
        with s.m2:
            if s.second != seen + 1:
                s.bad = True


def check(s: Stages) -> bool:
    return not s.bad


BUGGY = [writer(False), reader, reader]
FIXED = [writer(True), reader, reader]
