"""SCTBench's reorder family: one checker against many setters, shared by reorder_3 and _10.

Each setter publishes a pair with two plain writes (``a = 1`` then ``b = -1``); the checker
reads ``a`` then ``b`` and expects either the initial pair or the published one. The checker
goes wrong only if it reads between the first setter's two writes (or reads ``a`` before every
setter and ``b`` after one): an ordering that needs the checker to run at one particular moment
while many setters compete for the processor. The fixed version writes and reads under a lock.
"""

from __future__ import annotations

import threading
from typing import Callable, List


class Pair:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.bad = False
        self.lock = threading.Lock()


def setup() -> Pair:
    return Pair()


def setter(p: Pair) -> None:
    p.a = 1
    p.b = -1


def checker(p: Pair) -> None:
    a = p.a
    b = p.b
    if not ((a == 0 and b == 0) or (a == 1 and b == -1)):
        p.bad = True


def setter_locked(p: Pair) -> None:
    with p.lock:
        p.a = 1
        p.b = -1


def checker_locked(p: Pair) -> None:
    with p.lock:
        a = p.a
        b = p.b
    if not ((a == 0 and b == 0) or (a == 1 and b == -1)):
        p.bad = True


def check(p: Pair) -> bool:
    return not p.bad


def workers(setters: int, locked: bool) -> List[Callable[[Pair], None]]:
    """The setters first, then the checker (started last, as in the original)."""
    s, c = (setter_locked, checker_locked) if locked else (setter, checker)
    return [s] * setters + [c]
