"""A memoising cache filled from a ``ThreadPoolExecutor``.

``Cache.get(key)`` returns the value for ``key``, computing it on first use. Several pool
workers ask for the same key at the same time.

* ``BuggyCache``: ``if key not in self._data: self._data[key] = compute(key)``. Two workers can
  both find the key missing and both compute it: the expensive work runs twice, and the two
  callers get different objects for the same key (one of which the cache then forgets).
* ``FixedCache``: under a lock, the first caller for a key registers a ``Future`` for it and
  becomes its owner; later callers wait on that future. The computation itself runs outside the
  lock, so different keys are still computed in parallel.

Run it: ``python examples/executor_cache.py``.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, List, Union

import interleave


class Report:
    """An expensive value: identity matters (callers may mutate or compare it)."""

    def __init__(self, key: str) -> None:
        self.key = key


class BuggyCache:
    def __init__(self, compute: Callable[[str], Report]) -> None:
        self._compute = compute
        self._data: Dict[str, Report] = {}

    def get(self, key: str) -> Report:
        if key not in self._data:
            # Another worker can be here too, for the same key: both compute it.
            self._data[key] = self._compute(key)
        return self._data[key]


class FixedCache:
    def __init__(self, compute: Callable[[str], Report]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._futures: Dict[str, Future[Report]] = {}

    def get(self, key: str) -> Report:
        # Decide atomically who computes `key`: the first caller registers a Future and owns it.
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if owner:
                future = self._futures[key] = Future()
        if owner:
            # Outside the lock: other keys are computed in parallel, other callers of this
            # key wait on the future below.
            try:
                future.set_result(self._compute(key))
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()


def _fill(cache_class: Union[type[BuggyCache], type[FixedCache]]) -> None:
    computed: List[str] = []

    def compute(key: str) -> Report:
        computed.append(key)
        return Report(key)

    cache = cache_class(compute)
    keys = ["users", "orders", "users"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        reports = list(pool.map(cache.get, keys))
    assert sorted(computed) == ["orders", "users"], f"computed {computed}: each key should be computed once"
    assert reports[0] is reports[2], "two callers got different reports for the same key"


def buggy() -> None:
    """Three pool workers ask for two keys; the cache has no lock."""
    _fill(BuggyCache)


def fixed() -> None:
    """The same with the compute-once cache."""
    _fill(FixedCache)


def main() -> int:
    result = interleave.explore(buggy, executions=2000, seed=0)
    print(f"== Buggy (check, then compute and store): {result.verdict}")
    if result.failure is not None:
        print(result.failure.report)
    print()
    fixed_result = interleave.explore(fixed, executions=2000, seed=0)
    print(f"== Fixed (one Future per key, registered under a lock): {fixed_result.verdict}")
    return 0 if result.failure is not None and fixed_result.failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
