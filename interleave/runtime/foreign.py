"""What a real primitive is: one of the C types a declared primitive stands in for, or an RLock.

It blocks the OS thread, not a virtual one; the adopter replaces the ones it reaches and the
watchdog names the ones it did not.
"""

from __future__ import annotations

import _thread
from typing import Any

from ..instrument.access.primitives import STANDS_IN_FOR

REAL_RLOCK_TYPES = tuple(t for t in (getattr(_thread, "RLock", None),) if t is not None)


def is_real_primitive(value: Any) -> bool:
    """A lock, RLock or queue of the C implementation: it blocks the OS thread, not a virtual one."""
    return type(value) in STANDS_IN_FOR or bool(REAL_RLOCK_TYPES and issubclass(type(value), REAL_RLOCK_TYPES))
