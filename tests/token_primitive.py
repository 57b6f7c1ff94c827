"""A counting primitive declared by tests/test_primitive_declaration.py, and the "real" type it adopts."""

from __future__ import annotations

import sys
from typing import Callable

from interleave.runtime.operation import OpKind
from interleave.runtime.vthread import WaitQueue
from interleave.sync.running import running


class RealTokens:
    """Stands for a library's C primitive (it would block the OS thread)."""

    def __init__(self, n: int = 0) -> None:
        self.n = n


class Tokens:
    """A counting primitive: ``get`` takes a token, waiting while there is none; ``put`` adds one."""

    def __init__(self, n: int = 0) -> None:
        self.n = n
        self._waiters = WaitQueue(self, "Tokens (none left)")

    def put(self) -> None:
        """Add a token and wake one waiting getter."""
        ex = running()
        if ex is not None:
            ex.sync_point(OpKind.PUT, self, sys._getframe(1))
        self.n += 1
        if ex is not None:
            self._waiters.unpark_one()

    def get(self) -> None:
        """Take a token, waiting while there is none."""
        ex = running()
        assert ex is not None
        ex.sync_point(OpKind.GET, self, sys._getframe(1), True)
        while self.n == 0:
            ex.park(self._waiters)
        self.n -= 1

    def would_wait(self) -> bool:
        return self.n == 0

    @classmethod
    def adopt(cls, real: RealTokens, undo: Callable[[Callable[[], None]], None]) -> Tokens:
        twin = cls(real.n)

        def give_back() -> None:
            twin.give_back(real)

        undo(give_back)
        return twin

    def give_back(self, real: RealTokens) -> bool:
        real.n = self.n
        return True

    def snapshot(self) -> int:
        return self.n

    def reset(self, state: int) -> None:
        self.n = state
        self._waiters.waiters = []
