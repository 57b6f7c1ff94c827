"""A raw lock whose release lets the other OS thread run at once, as a loaded machine may.

Its own module so that an exploration can exclude it: its code runs inside the harness's
hand-off with Hypothesis's engine thread and must not be instrumented.
"""

from __future__ import annotations

from typing import Any

from interleave.sync.vtime import _real_sleep

# In a tuple: the run swaps time.sleep in module globals for its virtual sleep, not in tuples.
_REAL = (_real_sleep,)


class SlowRelease:
    """Wraps a raw lock; ``release`` sleeps for real afterwards, so a waiting OS thread runs first."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def acquire(self, *args: Any) -> bool:
        """As the raw lock's."""
        return bool(self.real.acquire(*args))

    def release(self) -> None:
        """Release, then give the GIL and the CPU away for 20 ms."""
        self.real.release()
        _REAL[0](0.02)

    def __enter__(self) -> bool:
        return bool(self.real.acquire())

    def __exit__(self, *exc: Any) -> None:
        self.real.release()
