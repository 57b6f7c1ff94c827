"""A deep bug: three threads each add 1 to a shared counter three times, without a lock.

Nine increments should give 9. Lost updates make it smaller, and most interleavings that lose
anything still end at 7 or 8. How low can it go? The answer is 2, and it takes one very
particular schedule, which is why this is a standard test of search strategies:

1. thread A reads 0 for its first increment, and is preempted before it writes;
2. threads B and C run all their increments except B's last (the counter reaches 5);
3. A writes 1 (wiping out everything B and C did); B reads 1 for its last increment;
4. A runs its other two increments (the counter reaches 3); B writes 2.

``buggy`` asserts ``value > 2``: it fails only on that schedule (and its mirror images).
``fixed`` holds a lock around each increment, so the counter always ends at 9.

Run it: ``python examples/deep_counter.py``.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable

import interleave

THREADS = 3
INCREMENTS = 3


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def add_unlocked(counter: Counter) -> None:
    for _ in range(INCREMENTS):
        counter.value += 1


def add_locked(counter: Counter) -> None:
    for _ in range(INCREMENTS):
        with counter.lock:
            counter.value += 1


def _run(add: Callable[[Counter], None]) -> Counter:
    counter = Counter()
    threads = [threading.Thread(target=add, args=(counter,), name=f"adder-{i}") for i in range(1, THREADS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counter


def buggy() -> None:
    """Lost updates happen often; losing all but two of nine needs one schedule."""
    counter = _run(add_unlocked)
    assert counter.value > 2, f"the counter ended at {counter.value} after {THREADS * INCREMENTS} increments"


def fixed() -> None:
    """With the lock every increment counts."""
    counter = _run(add_locked)
    assert counter.value == THREADS * INCREMENTS, f"the counter ended at {counter.value}"


def main() -> int:
    result = interleave.explore(buggy, executions=20_000, seed=0)
    print(f"== Buggy (value > 2 fails only on one schedule): {result.verdict}")
    if result.failure is not None:
        print(result.failure.report)
    print()
    fixed_result = interleave.explore(fixed, executions=2000, seed=0)
    print(f"== Fixed (locked increments): {fixed_result.verdict}")
    return 0 if result.failure is not None and fixed_result.failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
