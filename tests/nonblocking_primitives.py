"""A library's primitives whose waits do not block for ever: subclasses of the standard library's.

The tests exclude this module from instrumentation, as an installed library is: only the
standard library's methods it calls are seen, not its overrides.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Optional


class NonBlockingEvent(threading.Event):
    """``wait()`` answers at once."""

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.is_set()


class NonBlockingQueue(queue.Queue):  # type: ignore[type-arg]
    """``get()`` raises ``queue.Empty`` at once."""

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        return super().get(block=False)


class TimedSemaphore(threading.Semaphore):
    """``acquire()`` gives up after half a second."""

    def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        return super().acquire(blocking, 0.5 if timeout is None else timeout)


class TimedCondition(threading.Condition):
    """``with`` gives up on the lock after half a second."""

    def __enter__(self) -> bool:
        return self.acquire(timeout=0.5)

    def __exit__(self, *exc: Any) -> None:
        if self._is_owned():  # type: ignore[attr-defined]
            self.release()
