"""Throughput and search speed of interleave on the example programs, per tracing back-end.

Prints, for each back-end this Python has (``monitoring`` and ``settrace`` on 3.12+, ``settrace``
below), labelled tables of:

1. every example, buggy and fixed: executions per second, and for the buggy ones the executions
   to the first failure with the random strategy (seeds 0-9: how many seeds found it, median);
2. the 2-thread locked counter (each thread ``with lock: c.value += 1``): executions per second;
3. a loop of about 1,000 visible instructions (250 attribute increments) in a body that runs
   alone, under ``explore`` versus plain calls: the slowdown factor of running under control,
   with and without the fixed cost of an execution;
4. two threads running that loop at once, where every visible instruction is a switch point.

Plain script, no assertions: ``python benchmarks/bench_examples.py [--quick]``. Times are wall
clock on whatever else the machine is doing; compare numbers from the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from typing import Any, Callable, List, Optional

import interleave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _cases import BUGGY, FIXED, backends, fmt, markdown_table, median_or_miss, program, python_version  # noqa: E402

SEEDS = range(10)


def search(fn: Callable[[], Any], backend: str, seed: int, budget: int) -> interleave.Result:
    # shrink=False: shrinking and the report come after the search and are not part of
    # "executions to first failure"; Result.elapsed covers the search only either way.
    return interleave.explore(fn, strategy="random", seed=seed, executions=budget, backend=backend, shrink=False)


def throughput(fn: Callable[[], Any], backend: str, executions: int) -> float:
    """Executions per second over ``executions`` passing executions."""
    r = interleave.explore(fn, strategy="random", seed=0, executions=executions, backend=backend)
    assert r.failure is None, r.failure.report
    return r.executions / r.elapsed


def bench_examples(backend: str, budget: int, fixed_executions: int) -> str:
    rows: List[List[str]] = []
    for name, function in BUGGY:
        fn = program(name, function)
        counts: List[Optional[float]] = []
        total_execs, total_time = 0, 0.0
        for seed in SEEDS:
            r = search(fn, backend, seed, budget)
            counts.append(r.executions if r.failure is not None else None)
            total_execs += r.executions
            total_time += r.elapsed
        found = sum(c is not None for c in counts)
        med = median_or_miss(counts)
        rows.append([f"{name}.{function}", fmt(total_execs / total_time), f"{found}/{len(SEEDS)}",
                     fmt(med, 1, miss=f">{budget:,}")])
    for name, function in FIXED:
        rate = throughput(program(name, function), backend, fixed_executions)
        rows.append([f"{name}.{function}", fmt(rate), "-", "-"])
    return markdown_table(["program", "exec/s", "found (seeds 0-9)", "median execs to 1st failure"], rows,
                          right=(1, 2, 3))


class Counter:
    def __init__(self) -> None:
        self.value = 0


def locked_counter() -> None:
    c = Counter()
    lock = threading.Lock()

    def work() -> None:
        with lock:
            c.value += 1

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


class Box:
    def __init__(self) -> None:
        self.n = 0


def thousand_increments() -> None:
    box = Box()
    for _ in range(250):
        box.n += 1  # FOR_ITER, LOAD_ATTR, add, STORE_ATTR: 4 visible instructions per iteration
    assert box.n == 250


def switch_points_per_call(backend: str) -> int:
    """How many visible instructions one call of thousand_increments passes.

    Read from a failing copy under DPOR, the one strategy that still counts every visible
    instruction of a thread running alone as a switch point.
    """

    def failing() -> None:
        thousand_increments()
        raise RuntimeError("stop here, to read the step count")

    r = interleave.explore(failing, strategy="dpor", executions=1, backend=backend, shrink=False)
    assert r.failure is not None
    return r.failure.steps


def uncontrolled_seconds(calls: int) -> float:
    """Seconds per plain call of the same function, best of five batches."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            thousand_increments()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def one_increment() -> None:
    box = Box()
    box.n += 1


def controlled_seconds(backend: str, executions: int, fn: Callable[[], None] = thousand_increments) -> float:
    """Seconds per execution of ``fn`` as a single-thread body under explore (best of three)."""
    best = float("inf")
    for _ in range(3):
        r = interleave.explore(fn, strategy="random", seed=0, executions=executions, backend=backend)
        assert r.failure is None, r.failure.report
        best = min(best, r.elapsed / r.executions)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller budgets, for a smoke run")
    parser.add_argument("--loop", action="store_true", help="only the loop tables (3 and 4)")
    args = parser.parse_args()
    budget = 2000 if args.quick else 20_000
    fixed_executions = 300 if args.quick else 2000
    counter_executions = 1000 if args.quick else 5000

    print(f"interleave {interleave.__version__} on Python {python_version()} ({platform.machine()}, "
          f"{os.cpu_count()} cores), strategy=random, model=instruction")
    print(f"back-ends: {', '.join(backends())}")
    print()
    if not args.loop:
        examples_and_counter(budget, fixed_executions, counter_executions)
    loop_tables()


def examples_and_counter(budget: int, fixed_executions: int, counter_executions: int) -> None:
    """Tables 1 and 2."""
    for backend in backends():
        print(f"### Examples, backend={backend} (budget {budget:,} executions per seed; exec/s for buggy "
              f"programs is over the searches of all 10 seeds, for fixed ones over {fixed_executions:,} executions)")
        print()
        print(bench_examples(backend, budget, fixed_executions))
        print()

    rows = []
    for backend in backends():
        rates = []
        for _ in range(3):
            r = interleave.explore(locked_counter, strategy="random", seed=0, executions=counter_executions,
                                   backend=backend)
            assert r.failure is None
            rates.append(r.executions / r.elapsed)
        rows.append([backend, fmt(statistics.median(rates)), fmt(min(rates)), fmt(max(rates))])
    print(f"### 2-thread locked counter: executions per second ({counter_executions:,} executions, 3 runs)")
    print()
    print(markdown_table(["backend", "median exec/s", "min", "max"], rows, right=(1, 2, 3)))
    print()


def loop_tables() -> None:
    """Tables 3 and 4."""
    plain = uncontrolled_seconds(200)
    rows = []
    for backend in backends():
        controlled = controlled_seconds(backend, 200)
        # The fixed cost of one execution (greenlet, reseeding, bookkeeping), measured on a body
        # with a single increment: what is left is the cost of the loop itself.
        baseline = controlled_seconds(backend, 200, one_increment)
        points = switch_points_per_call(backend)
        loop = max(controlled - baseline, 0.0)
        rows.append([backend, f"{points:,}", f"{plain * 1e6:,.1f}", f"{controlled * 1e6:,.1f}",
                     f"{controlled / plain:.1f}x", f"{baseline * 1e6:,.1f}", f"{loop / plain:.1f}x"])
    print("### A loop of ~1,000 visible instructions (250 attribute increments) in a body that runs alone")
    print()
    print(markdown_table(["backend", "visible instructions", "plain us/call", "controlled us/execution",
                          "slowdown", "us/execution of a 1-increment body", "slowdown of the loop alone"],
                         rows, right=(1, 2, 3, 4, 5, 6)))
    print()
    rows = []
    for backend in backends():
        r = interleave.explore(contended_loops, strategy="random", seed=0, executions=200, backend=backend)
        assert r.failure is None, r.failure.report
        rows.append([backend, f"{r.elapsed / r.executions * 1e6:,.0f}"])
    print("### Two threads that each run that loop at once (every visible instruction is a switch point)")
    print()
    print(markdown_table(["backend", "us/execution"], rows, right=(1,)))
    print(f"(plain: {2 * plain * 1e6:,.1f} us for both loops, one after the other)")


def contended_loops() -> None:
    ts = [threading.Thread(target=thousand_increments) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


if __name__ == "__main__":
    main()
