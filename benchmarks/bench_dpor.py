"""DPOR: the proof times of the optimality programs, and a long differential soundness run.

Part 1, optimality: each program's number of equivalence classes was computed by hand; DPOR must
run exactly that many executions that complete a class (and count separately any it abandons as
redundant, "sleep-blocked"). The headline is the 1,680-class proof (3 threads x 3 separate locked
increments) on CPython 3.12: wall time and CPU time of the process (the machine is shared: CPU
time is the steadier figure), best of ``--repeat`` runs.

Part 2, soundness: Hypothesis generates small concurrent programs (tests/dpor_programs.py) and
the set of reachable outcomes under ``dpor`` is compared with unbounded ``exhaustive`` (where
exhaustive finishes within ``--cap`` executions) and ``dpor(preemptions=k)`` with
``exhaustive(preemptions=k)``. Any difference is printed with the program and fails the run.

Part 2b, the runtime's share (``--floor``): the 1,680-class proof is run once while DPOR's answers
to ``choose`` are recorded, then the same executions are run again by a strategy that gives the
same answers and records nothing (a recorder whose ``step`` does nothing, then no recorder): what
is left is the runtime's cost of those executions, which no change to DPOR can remove.

Part 3, seeded order: the 3x3 unlocked counter (benchmarks/corpus/deep_counter.py: the check fails
only when the total reaches its minimum, 2) under ``DporStrategy(order_seed=s)`` for seeds 0, 1, 2
and under the default order: executions to the first failure, or "not found" within ``--deep-cap``.

``python benchmarks/bench_dpor.py [--repeat N] [--examples N] [--cap N] [--skip-differential]
[--order-seed S] [--deep-cap N] [--skip-deep] [--floor]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

from interleave.session import Session
from interleave.strategies.base import Strategy
from interleave.strategies.dpor import DporStrategy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from programs import Counter, locked_increments  # noqa: E402 - the same programs the tests prove


def disjoint() -> None:
    a, b = Counter(), Counter()

    def work(c: Counter) -> None:
        c.value += 1

    ts = [threading.Thread(target=work, args=(x,)) for x in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


PROGRAMS: List[Tuple[str, Callable[[], None], int]] = [
    ("disjoint data, 2 threads", disjoint, 1),
    ("2 threads x 1 locked increment", locked_increments(2, 1), 2),
    ("3 threads x 1 locked increment", locked_increments(3, 1), 6),
    ("4 threads x 1 locked increment", locked_increments(4, 1), 24),
    ("3 threads x 3 locked increments", locked_increments(3, 3), 1680),
]


def prove(body: Callable[[], None]) -> Tuple[DporStrategy, float, float]:
    """Run dpor to exhaustion; the strategy (with its stats), wall and CPU seconds."""
    strat = DporStrategy()
    wall, cpu = time.perf_counter(), time.process_time()
    with Session(body, model="instruction", max_steps=100_000) as session:
        while not strat.exhausted():
            out = session.run_once(strat, 1, strat)
            strat.end_execution(out)
            if out.failed:
                raise AssertionError(f"unexpected failure: {out.kind}")
    return strat, time.perf_counter() - wall, time.process_time() - cpu


def optimality(repeat: int) -> bool:
    print(f"## DPOR optimality ({platform.python_implementation()} {platform.python_version()})\n")
    print("| program | classes (hand) | executions (classes) | sleep-blocked | wall s (best) | cpu s (best) |")
    print("|---|---:|---:|---:|---:|---:|")
    ok = True
    for name, body, expected in PROGRAMS:
        runs = [prove(body) for _ in range(repeat if expected > 100 else 1)]
        strat = runs[0][0]
        wall = min(r[1] for r in runs)
        cpu = min(r[2] for r in runs)
        st = strat.stats
        good = st["classes"] == expected
        ok &= good
        print(f"| {name} | {expected:,} | {st['classes']:,}{'' if good else ' MISMATCH'} | "
              f"{st['sleep_blocked']} | {wall:.2f} | {cpu:.2f} |")
    print()
    return ok


def differential(examples: int, cap: int, order_seed: Any = None) -> bool:
    import dpor_programs as P
    import hypothesis.strategies as st
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from interleave.strategies.exhaustive import ExhaustiveStrategy

    tally: Dict[str, Dict[str, int]] = {}
    failures: List[str] = []

    def run(label: str, threads: Any, k: Any) -> None:
        t = tally.setdefault(label, {"programs": 0, "equal": 0, "subset_only": 0, "dpor": 0, "exhaustive": 0,
                                     "sleep_blocked": 0})
        body, record, src = P.make_body(threads)
        strat = DporStrategy(k, order_seed)
        got, nd, done = P.outcomes(body, record, strat, 50_000)
        truth, ne, finished = P.outcomes(body, record, ExhaustiveStrategy(k), cap)
        t["programs"] += 1
        t["dpor"] += nd
        t["exhaustive"] += ne
        t["sleep_blocked"] += strat.stats["sleep_blocked"]
        # With a bound, dpor may reach more than exhaustive(k): it counts preemptions between its
        # own events (leaving a thread that would block is not one). Unbounded, they must be equal.
        if not done or not truth <= got or (finished and k is None and got != truth):
            failures.append(f"{label}: dpor {sorted(map(repr, got))}\nexhaustive {sorted(map(repr, truth))}\n{src}")
        elif finished:
            t["equal"] += 1
        else:
            t["subset_only"] += 1

    common: Dict[str, Any] = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck),
                                  phases=[Phase.generate])
    plans = [
        ("2 threads x <=2 ops, unbounded", 2, 2, None, examples),
        ("3 threads x 1 op, unbounded", 3, 1, None, examples // 2),
        ("3 threads x <=2 ops, preemptions=1", 3, 2, 1, examples),
        ("3 threads x <=2 ops, preemptions=2", 3, 2, 2, examples // 2),
    ]
    start = time.perf_counter()
    def plan_test(label: str, nthreads: int, nops: int, k: Any, n: int) -> Callable[[], None]:
        @settings(max_examples=n, **common)
        @seed(12345)
        @given(P.strategy_ops(st, max_threads=nthreads, max_ops=nops))
        def check(threads: Any) -> None:
            run(label, threads, k)

        return check

    for label, nthreads, nops, k, n in plans:
        plan_test(label, nthreads, nops, k, n)()
    elapsed = time.perf_counter() - start
    order = "" if order_seed is None else f", dpor order_seed={order_seed}"
    print(f"## Differential soundness: dpor vs exhaustive (cap {cap} exhaustive executions per program{order})\n")
    print("| programs | compared | outcome sets equal (bounded: dpor covers exhaustive's) | "
          "exhaustive capped (dpor superset checked) | "
          "dpor executions | exhaustive executions | sleep-blocked |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, t in tally.items():
        print(f"| {label} | {t['programs']} | {t['equal']} | {t['subset_only']} | {t['dpor']:,} | "
              f"{t['exhaustive']:,} | {t['sleep_blocked']} |")
    print(f"\n{len(failures)} differences; {elapsed:.0f} s\n")
    for f in failures[:5]:
        print(f)
    return not failures


class _Logged(DporStrategy):
    """DPOR that keeps its answers to ``choose``, one list per execution."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: List[List[Tuple[int, int]]] = []

    def new_execution(self) -> bool:
        self.answers.append([])
        return super().new_execution()

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        out = super().choose(runnable, current, used)
        self.answers[-1].append(out)
        return out


class _Scripted(Strategy):
    """Gives recorded answers to ``choose``; with ``records``, a recorder that does nothing."""

    name = "scripted"
    sees_lone_points = True

    def __init__(self, answers: List[List[Tuple[int, int]]], records: bool) -> None:
        self.answers = answers
        self.records = records
        self.i = -1
        self.j = 0

    def new_execution(self) -> bool:
        self.i += 1
        self.j = 0
        return self.i < len(self.answers)

    def exhausted(self) -> bool:
        return self.i + 1 >= len(self.answers)

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        out = self.answers[self.i][self.j]
        self.j += 1
        if out[0] not in runnable:
            raise AssertionError(f"execution {self.i} diverged: thread {out[0]} cannot run")
        return out

    def step(self, vt: Any, point: Any) -> None:
        """Nothing: the cost of being a recorder, without DPOR's work."""

    def switch(self, from_tid: int, to_tid: int, preempted: bool) -> None:
        """Nothing."""

    def finish(self) -> None:
        """Nothing."""


def floor(repeat: int) -> None:
    body = locked_increments(3, 3)
    # This module's classes must not be traced as code under test.
    settings: Dict[str, Any] = dict(model="instruction", max_steps=100_000, exclude=["bench_dpor"])
    logged = _Logged()
    cpu = time.process_time()
    with Session(body, **settings) as session:
        while not logged.exhausted():
            logged.end_execution(session.run_once(logged, 1, logged))
    dpor = time.process_time() - cpu
    rows = [("dpor (recording its answers)", dpor)]
    for records in (True, False):
        best = None
        for _ in range(repeat):
            strat = _Scripted(logged.answers, records)
            cpu = time.process_time()
            with Session(body, **settings) as session:
                while not strat.exhausted():
                    out = session.run_once(strat, 1, strat if records else None)
                    if out.failed:
                        raise AssertionError(f"scripted run diverged: {out.kind}")
            took = time.process_time() - cpu
            best = took if best is None else min(best, took)
        rows.append((f"same executions, {'a recorder that does nothing' if records else 'no recorder'}",
                     best or 0.0))
    print(f"## The runtime's share of the 1,680-class proof ({len(logged.answers):,} executions)\n")
    print("| run | cpu s |")
    print("|---|---:|")
    for label, took in rows:
        print(f"| {label} | {took:.2f} |")
    print()


def deep_counter() -> None:
    """3 threads x 3 unlocked increments; fails only when the total is 2 (its minimum)."""
    c = Counter()

    def add() -> None:
        for _ in range(3):
            c.value += 1

    ts = [threading.Thread(target=add) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value > 2, c.value


def seeded(cap: int) -> bool:
    print(f"## Seeded order: 3x3 unlocked counter reaching 2 (cap {cap:,} executions)\n")
    print("| order | executions to first failure | classes | sleep-blocked | wall s |")
    print("|---|---:|---:|---:|---:|")
    found_all = True
    for seed in (None, 0, 1, 2):
        strat = DporStrategy(order_seed=seed)
        wall = time.perf_counter()
        hit = None
        with Session(deep_counter, model="instruction", max_steps=100_000) as session:
            n = 0
            while not strat.exhausted() and n < cap:
                out = session.run_once(strat, n, strat)
                strat.end_execution(out)
                n += 1
                if out.failed:
                    hit = n
                    break
        if seed is not None and hit is None:
            found_all = False
        label = "default" if seed is None else f"order_seed={seed}"
        print(f"| {label} | {hit if hit is not None else 'not found'} | {strat.stats['classes']:,} | "
              f"{strat.stats['sleep_blocked']} | {time.perf_counter() - wall:.1f} |")
    print()
    return found_all


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of the 1,680-class proof (best is shown)")
    ap.add_argument("--examples", type=int, default=200, help="generated programs per differential plan")
    ap.add_argument("--cap", type=int, default=4000, help="exhaustive executions allowed per program")
    ap.add_argument("--skip-differential", action="store_true")
    ap.add_argument("--order-seed", type=int, default=None, help="dpor's order_seed in the differential run")
    ap.add_argument("--deep-cap", type=int, default=10_000, help="executions allowed per seed in part 3")
    ap.add_argument("--skip-deep", action="store_true")
    ap.add_argument("--floor", action="store_true", help="also measure the runtime's share of the proof")
    args = ap.parse_args()
    ok = optimality(args.repeat)
    if args.floor:
        floor(args.repeat)
    if not args.skip_deep:
        # Reported, not part of the exit status: the 3-of-3 goal is not met yet (docs/dpor.md).
        seeded(args.deep_cap)
    if not args.skip_differential:
        ok &= differential(args.examples, args.cap, args.order_seed)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
