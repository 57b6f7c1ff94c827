"""Lazy initialisation without a lock: two threads both find the instance missing and both
create it. The fixed version uses double-checked locking.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = False


class Registry:
    def __init__(self) -> None:
        self.instance: Optional[object] = None
        self.created = 0
        self.lock = threading.Lock()


def setup() -> Registry:
    return Registry()


def _create(r: Registry) -> None:
    r.created += 1
    r.instance = object()


def get(locked: bool) -> Callable[[Registry], None]:
    def use(r: Registry) -> None:
        if r.instance is None:
            if locked:
                with r.lock:
                    if r.instance is None:
                        _create(r)
            else:
                _create(r)

    return use


def check(r: Registry) -> bool:
    return r.created == 1


BUGGY = [get(False), get(False)]
FIXED = [get(True), get(True)]
