"""Search strategies: exhaustive counts and proofs, PCT's guarantee, random and the portfolio."""

from __future__ import annotations

import functools
import os
import threading
from typing import List

import pytest
import strategy_launcher
from example_loader import example
from guarantee_programs import spin_wait
from programs import locked_counter, lost_update

import interleave
from interleave.strategies.exhaustive import ExhaustiveStrategy
from interleave.strategies.pct import PCTStrategy
from interleave.strategies.registry import names

LAUNCHER = os.path.abspath(strategy_launcher.__file__)


class Shared:
    pass


shared = Shared()


def write_x() -> None:
    shared.x = 1  # two switch points: before LOAD_GLOBAL and before STORE_ATTR


def write_y() -> None:
    shared.y = 2


def write_z() -> None:
    shared.z = 3








class Log:
    def __init__(self) -> None:
        self.entries: List[int] = []


def reorder() -> None:
    """Depth 3: all of thread 0 before any of thread 1, and thread 4 entirely last."""
    log = Log()

    def worker(i: int) -> None:
        for _ in range(4):
            log.entries.append(i)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    e = log.entries
    last0 = len(e) - 1 - e[::-1].index(0)
    assert not (last0 < e.index(1) and e[-4:] == [4, 4, 4, 4])


def two_writers() -> None:
    strategy_launcher.start_and_join(write_x, write_y)


# Hand count for two_writers (launcher excluded; A = write_x, B = write_y, two points each).
# After main starts both and blocks joining A, the free pick is A or B.
#   A first: A continues to its end, then main/B free pick: main (1), or B which may finish
#            (1) or be preempted by main (1 preemption); or A is preempted by B at its second
#            point (1): B finishes (1), or B is preempted back (2) and after A ends main or B
#            goes next (2, 2). Six schedules, preemptions {0, 0, 1, 1, 2, 2}.
#   B first: B finishes, then A runs alone (0); or B is preempted by A (1): A finishes, then
#            main or B (1, 1); or A is preempted back by B (2). Four, preemptions {0, 1, 1, 2}.
# So: <= 0 preemptions: 3 schedules, <= 1: 7, <= 2 or unbounded: 10.
@pytest.mark.parametrize("bound, count", [(0, 3), (1, 7), (2, 10), (None, 10)])
def test_exhaustive_counts_match_hand_derivation(bound, count):
    r = interleave.explore(two_writers, strategy="exhaustive", preemptions=bound,
                           executions=1000, exclude=[LAUNCHER])
    assert r.failure is None
    assert r.exhausted
    assert r.executions == count
    expected = "no preemption bound" if bound is None else f"≤ {bound} preemption"
    assert expected in r.verdict
    assert "exhausted" in r.verdict


def test_exhaustive_three_threads_never_revisits_a_schedule():
    seen = []

    class Recording(ExhaustiveStrategy):
        def end_execution(self, outcome):
            seen.append(tuple(outcome.runs))
            super().end_execution(outcome)

    body = functools.partial(strategy_launcher.start_and_join, write_x, write_y, write_z)
    r = interleave.explore(body, strategy=Recording(None), executions=10_000, exclude=[LAUNCHER])
    assert r.exhausted and r.failure is None
    assert len(seen) == r.executions == len(set(seen))
    # Bounded runs are subsets of the unbounded one and grow with the bound.
    counts = [interleave.explore(body, strategy="exhaustive", preemptions=k, executions=10_000,
                                 exclude=[LAUNCHER]).executions for k in (0, 1, 2)]
    assert counts[0] < counts[1] < counts[2] <= r.executions


def test_exhaustive_finds_lost_update_and_proves_locked_counter():
    assert interleave.explore(lost_update, strategy="exhaustive", preemptions=0, executions=1000).exhausted
    found = interleave.explore(lost_update, strategy="exhaustive", preemptions=1, executions=1000)
    assert found.failure is not None and isinstance(found.failure.exception, AssertionError)
    proof = interleave.explore(locked_counter, strategy="exhaustive", preemptions=2, executions=100_000)
    assert proof.failure is None and proof.exhausted
    assert "≤ 2 preemptions" in proof.verdict


def test_budget_limited_search_never_reads_as_proof():
    r = interleave.explore(locked_counter, strategy="exhaustive", executions=5)
    assert not r.exhausted and r.failure is None
    assert "not a proof" in r.verdict
    r = interleave.explore(locked_counter, strategy="random", executions=20, seed=3)
    assert not r.exhausted and "not a proof" in r.verdict


def test_exhaustive_terminates_on_spin_wait_with_bounded_path():
    strat = ExhaustiveStrategy(1)
    deepest = []

    def watch(outcome):
        deepest.append(len(strat.stack))
        ExhaustiveStrategy.end_execution(strat, outcome)

    strat.end_execution = watch  # type: ignore[method-assign]
    r = interleave.explore(spin_wait, strategy=strat, executions=50_000)
    # It runs out of schedules, but the spinner was made to yield (the fairness bound): schedules
    # in which it ran on were never explored, so that is not called a proof.
    assert r.failure is None and r.executions < 50_000 and r.stop_reason == "unproved", r.verdict
    assert not r.exhausted and r.not_a_proof == ("fairness",), r
    # One frame per branching pick of one path: memory follows one schedule, not the tree.
    assert max(deepest) <= 4000


def test_pct_finds_depth_three_ordering_bug_quickly():
    runs = []
    for seed in range(5):
        r = interleave.explore(reorder, strategy="pct", depth=3, seed=seed, executions=200, shrink=False)
        assert r.failure is not None, f"pct missed the depth-3 bug with seed {seed}"
        runs.append(r.executions)
    assert sorted(runs)[2] <= 50


def depth_one_bug() -> None:
    """Fails exactly when thread B's write happens before thread A's read: one ordering constraint."""
    box = Shared()
    box.v = 0
    seen = []

    def a() -> None:
        seen.append(box.v)

    def b() -> None:
        box.v = 1

    strategy_launcher.start_and_join(a, b)
    assert seen == [0]


def test_pct_probability_guarantee_holds_for_depth_one():
    # PCT's bound for depth d=1 with n threads: each execution fails with probability >= 1/n.
    n = 3  # main, a, b
    strat = PCTStrategy(seed=11, depth=1)
    failures = 0
    trials = 150  # observed rate 0.46 here; the 0.25 threshold is ~5 standard deviations below
    for _ in range(trials):
        r = interleave.explore(depth_one_bug, strategy=strat, executions=1, shrink=False,
                               exclude=[LAUNCHER])
        failures += r.failure is not None
    assert failures / trials >= (1 / n) * 0.75, failures


def test_portfolio_is_default_and_finds_shallow_and_ordering_bugs():
    r = interleave.explore(lost_update, executions=500, seed=2)
    assert r.failure is not None and r.strategy == "portfolio"
    assert "found by portfolio[" in r.failure.report  # the member that found it
    r = interleave.explore(reorder, executions=2000, seed=4, shrink=False)
    assert r.failure is not None


def test_every_registered_strategy_finds_the_lost_update():
    for name in names():
        if name in ("exhaustive", "dpor", "hypothesis"):
            continue
        r = interleave.explore(lost_update, strategy=name, executions=2000, seed=5, shrink=False)
        assert r.failure is not None, name


def test_same_seed_same_executions():
    a = interleave.explore(reorder, strategy="portfolio", seed=9, executions=300, shrink=False)
    b = interleave.explore(reorder, strategy="portfolio", seed=9, executions=300, shrink=False)
    assert a.executions == b.executions
    assert (a.failure is None) == (b.failure is None)
    if a.failure is not None:
        assert a.failure.token == b.failure.token


def test_unknown_strategy_and_bad_parameters_are_rejected():
    with pytest.raises(interleave.OptionError, match="strategy must be one of"):
        interleave.explore(lost_update, strategy="nope")
    with pytest.raises(interleave.OptionError, match="takes no parameters"):
        interleave.explore(lost_update, strategy="random", depth=3)
    with pytest.raises(interleave.OptionError, match="preemptions must be an integer"):
        interleave.explore(lost_update, strategy="exhaustive", preemptions="2")



def test_every_strategy_replays_its_own_failures():
    # Regression: on 3.10/3.11 the strategy's own Python code (POS looks instructions up with
    # dis) ran traced when it decided at a sync point, and some POS schedules of this program
    # did not replay (3 of seeds 0-9 on 3.10).
    body = example("lazy_singleton").buggy
    for name in ("pos", "random", "pct", "portfolio", "rounds", "pct-races"):
        for seed in range(10):
            r = interleave.explore(body, strategy=name, seed=seed, executions=500, shrink=False)
            assert r.failure is not None, (name, seed)
            assert r.failure.kind == "exception", (name, seed, r.failure.detail)
            again = interleave.replay(body, r.failure.token)
            assert again.failure is not None and again.failure.kind == "exception", (name, seed)


def test_rounds_same_seed_same_executions_and_lockstep_deadlock():
    # Rounds keep every thread at the same stage: all five philosophers take their first fork
    # before any takes its second within a few executions for every seed.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from corpus import harness, load

    body = harness.body(load("philosophers_5"))
    for seed in range(5):
        a = interleave.explore(body, strategy="rounds", seed=seed, executions=20, shrink=False)
        assert a.failure is not None and a.failure.kind == "deadlock", seed
        b = interleave.explore(body, strategy="rounds", seed=seed, executions=20, shrink=False)
        assert a.executions == b.executions and a.failure.token == b.failure.token
    a = interleave.explore(reorder, strategy="rounds", seed=3, executions=200, shrink=False)
    b = interleave.explore(reorder, strategy="rounds", seed=3, executions=200, shrink=False)
    assert a.executions == b.executions


def test_pct_races_same_seed_same_executions_and_finds_a_race_after_a_long_prefix():
    # Change points only before accesses that two threads make: the flush after 30 appends is
    # one of a handful of racing points, where plain PCT spreads its change point over every step.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from corpus import harness, load

    body = harness.body(load("long_prefix"))
    for seed in range(5):
        a = interleave.explore(body, strategy="pct-races", seed=seed, executions=40, shrink=False)
        assert a.failure is not None, seed
        b = interleave.explore(body, strategy="pct-races", seed=seed, executions=40, shrink=False)
        assert a.executions == b.executions and a.failure.token == b.failure.token
