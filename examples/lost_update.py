"""A lost update: two threads increment a shared counter without a lock.

``self.value += 1`` is three steps for the interpreter: read ``self.value``, add one, write
``self.value`` back. If another thread writes in between, one increment is lost and the counter
ends at 1 instead of 2. The fixed version holds a lock around the read-modify-write.

Run it: ``python examples/lost_update.py``.
"""

from __future__ import annotations

import threading

import interleave


class Counter:
    """The buggy counter: the read-modify-write is not atomic."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        # Load, add, store: another thread can run between the load and the store.
        self.value += 1


class LockedCounter:
    """The fixed counter: one lock makes the read-modify-write a single step for other threads."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1


def _two_increments(counter: Counter | LockedCounter) -> None:
    threads = [threading.Thread(target=counter.increment) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value == 2, f"expected 2 increments, counter is {counter.value}"


def buggy() -> None:
    """Two threads increment an unlocked counter once each."""
    _two_increments(Counter())


def fixed() -> None:
    """The same with the lock held around each increment."""
    _two_increments(LockedCounter())


def main() -> None:
    result = interleave.explore(buggy, executions=500, seed=1)
    print(result.verdict)
    if result.failure is not None:
        print(result.failure.report)
    print()
    print("Fixed version:")
    print(interleave.explore(fixed, executions=2000, seed=1).verdict)


if __name__ == "__main__":
    main()
