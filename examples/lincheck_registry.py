"""Is this registry thread-safe? Ask lincheck instead of writing an invariant.

``Registry.put_if_absent`` checks whether a key is present, then stores it: two threads can both
see the key absent, both store, and both be told "it was absent" (``None``). No sequential order
of the two calls gives that: the second call would have seen the first one's value.
``lincheck.check`` generates small concurrent scenarios of the registry's operations, explores
their interleavings, and reports the smallest scenario whose results no sequential order
explains, as a table, with the interleaving that produced it and a replay token.
``LockedRegistry`` holds a lock around the check and the act, and passes.

Run it: ``python examples/lincheck_registry.py``.
"""

from __future__ import annotations

import threading
from typing import Dict, Optional

from hypothesis import strategies as st

from interleave import lincheck


class Registry:
    """A key -> value registry whose put_if_absent is a check-then-act race."""

    def __init__(self) -> None:
        self._data: Dict[int, int] = {}

    def put_if_absent(self, key: int, value: int) -> Optional[int]:
        """Store ``value`` unless ``key`` is present; the value already there, or None."""
        if key not in self._data:  # another thread can store the key right after this check
            self._data[key] = value
            return None
        return self._data[key]

    def get(self, key: int) -> Optional[int]:
        """The value stored under ``key``, or None."""
        return self._data.get(key)


class LockedRegistry(Registry):
    """The check and the act under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def put_if_absent(self, key: int, value: int) -> Optional[int]:
        """As Registry's, atomically."""
        with self._lock:
            return super().put_if_absent(key, value)

    def get(self, key: int) -> Optional[int]:
        """As Registry's, under the lock."""
        with self._lock:
            return super().get(key)


def operations(cls: type) -> list:
    """The registry's operations, with small key and value ranges (collisions are what matter)."""
    return [lincheck.op(cls.put_if_absent, st.integers(0, 1), st.integers(0, 9)),
            lincheck.op(cls.get, st.integers(0, 1))]


def buggy() -> lincheck.LincheckResult:
    """Check the racy registry: a not-linearizable scenario of 2 threads x 1 call."""
    return lincheck.check(Registry, operations(Registry), threads=2, ops_per_thread=3, scenarios=100,
                          executions=200, seed=0)


def fixed() -> lincheck.LincheckResult:
    """Check the locked registry: every history of 100 scenarios is linearizable."""
    return lincheck.check(LockedRegistry, operations(LockedRegistry), threads=2, ops_per_thread=3,
                          scenarios=100, executions=20, seed=0)


if __name__ == "__main__":
    result = buggy()
    print(result.verdict)
    assert result.failure is not None
    print(result.failure.report)
    again = lincheck.replay(Registry, operations(Registry), result.failure.token)
    print("\nreplayed:", again.verdict)
    print("\nlocked:", fixed().verdict)
