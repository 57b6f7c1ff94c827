"""Cooperative ``queue.SimpleQueue`` (the C one cannot park a greenlet)."""

from __future__ import annotations

import sys
from _queue import SimpleQueue as _RealSimpleQueue
from collections import deque
from queue import Empty
from typing import Any, Callable, Optional, Tuple

from ..instrument.access.primitives import declare_primitive
from ..runtime.operation import OpKind
from ..runtime.vthread import WaitQueue
from .lock import Lock
from .running import running


@declare_primitive("queue", replaces=("queue.SimpleQueue",), real_type=_RealSimpleQueue)
class SimpleQueue:
    """Unbounded FIFO queue whose ``get`` parks the virtual thread while it is empty."""

    def __init__(self) -> None:
        self._items: deque = deque()
        self._getters = WaitQueue(self, f"SimpleQueue at {id(self):#x} (empty)")
        self._real_ready = Lock()  # outside a run: a real lock to wait on
        self._real_ready.acquire()

    def put(self, item: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        """Append an item and wake one waiting getter."""
        ex = running()
        if ex is not None:
            ex.sync_point(OpKind.PUT, self, sys._getframe(1))
        self._items.append(item)
        if ex is not None:
            self._getters.unpark_one()
        elif self._real_ready.locked():
            self._real_ready.release()

    put_nowait = put

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        """Remove and return the oldest item, waiting while there is none."""
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        ex = running()
        if ex is None:
            return self._get_real(block, timeout)
        ex.sync_point(OpKind.GET, self, sys._getframe(1), block, timeout)
        deadline = None if timeout is None else ex.now + timeout
        while not self._items:
            if not block:
                raise Empty
            if not ex.park(self._getters, None if deadline is None else deadline - ex.now):
                if not self._items:
                    raise Empty
        return self._items.popleft()

    def _get_real(self, block: bool, timeout: Optional[float]) -> Any:
        while not self._items:
            if not block:
                raise Empty
            if not self._real_ready.acquire(True, -1 if timeout is None else timeout):
                raise Empty
        return self._items.popleft()

    def get_nowait(self) -> Any:
        """``get(False)``."""
        return self.get(False)

    def empty(self) -> bool:
        """Whether the queue holds no item."""
        return not self._items

    def qsize(self) -> int:
        """How many items the queue holds."""
        return len(self._items)

    # ------------------------------------------------------------ the primitive protocol
    def would_wait(self) -> bool:
        """Whether a ``get`` that waits until woken would wait now."""
        return not self._items

    @classmethod
    def adopt(cls, real: Any, undo: Callable[[Callable[[], None]], None]) -> SimpleQueue:
        """A twin of a real queue made before the run: it takes the items, and gives them back after."""
        twin = cls()
        while True:
            try:
                twin._items.append(real.get_nowait())
            except Empty:
                break
        start = tuple(twin._items)

        def give_back() -> None:
            twin.reset(start)  # the run ends with the items it began with, as a Queue's
            twin.give_back(real)

        undo(give_back)
        return twin

    def give_back(self, real: Any) -> bool:
        """Put the items left back into the real queue it adopted (True: it holds none now)."""
        while self._items:
            real.put(self._items.popleft())
        return True

    def snapshot(self) -> Tuple[Any, ...]:
        """Its items: each execution starts with those it held when the run began."""
        return tuple(self._items)

    def reset(self, state: Tuple[Any, ...]) -> None:
        """The items of ``state`` and no waiters (an unwound thread may have left one queued)."""
        self._getters.waiters = []
        self._items.clear()
        self._items.extend(state)

    __class_getitem__ = classmethod(lambda cls, item: cls)
