"""What a real primitive is: a lock, RLock or SimpleQueue of the C implementation.

It blocks the OS thread, not a virtual one; the adopter replaces the ones it reaches and the
watchdog names the ones it did not.
"""

from __future__ import annotations

import _thread
from typing import Any

REAL_LOCK_TYPES = (_thread.LockType,)
REAL_RLOCK_TYPES = tuple(t for t in (getattr(_thread, "RLock", None),) if t is not None)
try:
    from _queue import SimpleQueue as RealSimpleQueue
except ImportError:  # pragma: no cover - CPython always has it
    RealSimpleQueue = None  # type: ignore[assignment,misc]


def is_real_primitive(value: Any) -> bool:
    """A lock or SimpleQueue of the C implementation: it blocks the OS thread, not a virtual one."""
    return (isinstance(value, REAL_LOCK_TYPES) or bool(REAL_RLOCK_TYPES and isinstance(value, REAL_RLOCK_TYPES))
            or (RealSimpleQueue is not None and type(value) is RealSimpleQueue))
