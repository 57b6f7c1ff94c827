"""Exhaustive (preemption-bounded) search: schedules and seconds to a bounded proof.

Run: python benchmarks/bench_exhaustive.py
"""

from __future__ import annotations

import sys
import threading
import time

import interleave


class Pair:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0


def two_threads_twenty_steps() -> None:
    """Two threads, five read-modify-write rounds each on their own field (~25 visible steps each)."""
    s = Pair()

    def one() -> None:
        for _ in range(5):
            s.a = s.a + 1

    def two() -> None:
        for _ in range(5):
            s.b = s.b + 1

    ts = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert s.a == 5 and s.b == 5


def locked_counter() -> None:
    """The 2-thread locked counter: each thread `with lock: c.value += 1`."""
    s = Pair()
    lock = threading.Lock()

    def inc() -> None:
        with lock:
            s.a += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert s.a == 2


def main() -> None:
    print(f"Python {sys.version.split()[0]}, exhaustive search to a bounded proof")
    print(f"{'program':<28} {'bound':>6} {'schedules':>10} {'seconds':>8} {'schedules/s':>12}")
    for fn in (two_threads_twenty_steps, locked_counter):
        for k in (0, 1, 2, 3):
            start = time.perf_counter()
            r = interleave.explore(fn, strategy="exhaustive", preemptions=k, executions=10**6, seed=0)
            dt = time.perf_counter() - start
            assert r.exhausted and r.failure is None, r.verdict
            print(f"{fn.__name__:<28} {k:>6} {r.executions:>10} {dt:>8.2f} {r.executions / dt:>12.0f}")


if __name__ == "__main__":
    main()
