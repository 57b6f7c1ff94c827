"""interleave.lincheck: scenarios per second, and seconds to a shrunk failure.

For a locked counter and a locked queue (every scenario passes, so each one spends its whole
execution budget) at 2 threads x 3 calls and 3 threads x 3 calls: scenarios and executions per
second, with one shared session (the default) and with one ``interleave.explore`` per scenario
(the fallback). For their racy twins: seconds to the reported, shrunk failure.

Run: python benchmarks/bench_lincheck.py [--quick]
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, List, Optional

from hypothesis import strategies as st

from interleave import lincheck
from interleave.lincheck import engine


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> int:
        self.value += 1
        return self.value

    def get(self) -> int:
        return self.value


class LockedCounter(Counter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def increment(self) -> int:
        with self._lock:
            self.value += 1
            return self.value

    def get(self) -> int:
        with self._lock:
            return self.value


class TornQueue:
    def __init__(self) -> None:
        self._items: List[int] = []
        self._puts = self._gets = 0
        self._lock = threading.Lock()

    def put(self, item: int) -> None:
        with self._lock:
            self._items.append(item)
            self._puts += 1

    def get(self) -> Optional[int]:
        with self._lock:
            if not self._items:
                return None
            self._gets += 1
            return self._items.pop(0)

    def size(self) -> int:
        return self._puts - self._gets


class LockedQueue(TornQueue):
    def size(self) -> int:
        with self._lock:
            return self._puts - self._gets


class SeqQueue:
    def __init__(self) -> None:
        self.items: List[int] = []

    def put(self, item: int) -> None:
        self.items.append(item)

    def get(self) -> Optional[int]:
        return self.items.pop(0) if self.items else None

    def size(self) -> int:
        return len(self.items)


def counter_ops(cls: Any) -> list:
    return [lincheck.op(cls.increment), lincheck.op(cls.get)]


def queue_ops(cls: Any) -> list:
    return [lincheck.op(cls.put, st.integers(0, 9)), lincheck.op(cls.get), lincheck.op(cls.size)]


SUBJECTS = [("counter", LockedCounter, Counter, counter_ops, None),
            ("queue", LockedQueue, TornQueue, queue_ops, SeqQueue)]


def timed(fn: Callable[[], Any]) -> tuple:
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def main() -> None:
    quick = "--quick" in sys.argv
    scenarios = 20 if quick else 50
    budgets = [20] if quick else [20, 100]
    print(f"Python {sys.version.split()[0]}; {scenarios} scenarios per row; seed 0\n")
    print("| subject | shape | executions/scenario | session | scenarios/s | executions/s |")
    print("|---|---|---|---|---|---|")
    for name, locked, _, ops, spec in SUBJECTS:
        for threads in (2, 3):
            for execs in budgets:
                for shared in (True, False):
                    if not shared and execs != budgets[0]:
                        continue
                    saved = engine.AVAILABLE
                    engine.AVAILABLE = shared and saved
                    try:
                        r, secs = timed(lambda: lincheck.check(
                            locked, ops(locked), threads=threads, ops_per_thread=3, spec=spec,  # noqa: B023
                            scenarios=scenarios, executions=execs, seed=0))  # noqa: B023
                    finally:
                        engine.AVAILABLE = saved
                    assert r.failure is None, r.failure.report
                    print(f"| locked {name} | {threads}x3 | {execs} | {'shared' if shared else 'per scenario'} | "
                          f"{r.scenarios / secs:.1f} | {r.executions / secs:.0f} |")
    print("\n| subject | shape | seconds to the shrunk report | scenarios | shrink runs | shrunk to |")
    print("|---|---|---|---|---|---|")
    for name, _, racy, ops, spec in SUBJECTS:
        for threads in (2, 3):
            r, secs = timed(lambda: lincheck.check(racy, ops(racy), threads=threads,  # noqa: B023
                                                   ops_per_thread=3, spec=spec,  # noqa: B023
                                                   scenarios=100, executions=200, seed=0))
            shape = r.scenario.shape if r.scenario is not None else "not found"
            print(f"| racy {name} | {threads}x3 | {secs:.2f} | {r.scenarios} | {r.shrink_runs} | {shape} |")


if __name__ == "__main__":
    main()
