"""The default portfolio and its set-up prelude (MainFirstStrategy)."""

from __future__ import annotations

import threading
from typing import List

import guarantee_programs
import pytest
from programs import locked_counter, three_setters_one_checker

import interleave
from interleave.strategies.main_first import MainFirstStrategy
from interleave.strategies.pct import PCTStrategy
from interleave.strategies.pos import POSStrategy
from interleave.strategies.random_walk import RandomStrategy

log: List[str] = []


def starts_three_then_notes() -> None:
    def work(i: int) -> None:
        log.append(f"w{i}")
        log.append(f"w{i}")

    ts = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    log.append("started")
    for t in ts:
        t.join()
    log.append("|")


class Counter:
    def __init__(self) -> None:
        self.value = 0


def body_races_with_its_thread() -> None:
    c = Counter()

    def inc() -> None:
        c.value += 1

    t = threading.Thread(target=inc)
    t.start()
    c.value += 1  # the body's own update races with the thread it just started
    t.join()
    assert c.value == 2


def executions(trace: List[str]) -> List[List[str]]:
    out: List[List[str]] = [[]]
    for entry in trace:
        if entry == "|":
            out.append([])
        else:
            out[-1].append(entry)
    return out[:-1]


def test_main_first_lets_the_body_start_every_thread_before_any_runs() -> None:
    for inner in (RandomStrategy(3), POSStrategy(3), PCTStrategy(3, 3)):
        log.clear()
        r = interleave.explore(starts_three_then_notes, strategy=MainFirstStrategy(inner), seed=3,
                               executions=50, shrink=False)
        assert r.failure is None
        runs = executions(log)
        assert len(runs) == 50
        assert all(run[0] == "started" for run in runs), inner.describe()
        # ... and the workers still interleave in many ways afterwards.
        assert len({tuple(run) for run in runs}) > 5, inner.describe()
    # Without the prelude, a thread started early often runs before the body goes on.
    log.clear()
    interleave.explore(starts_three_then_notes, strategy=RandomStrategy(3), seed=3, executions=50, shrink=False)
    assert any(run[0] != "started" for run in executions(log))


def test_main_first_same_seed_same_executions() -> None:
    traces = []
    for _ in range(2):
        log.clear()
        interleave.explore(starts_three_then_notes, strategy=MainFirstStrategy(RandomStrategy(11)), seed=11,
                           executions=40, shrink=False)
        traces.append(list(log))
    assert traces[0] == traces[1]
    log.clear()
    interleave.explore(starts_three_then_notes, strategy=MainFirstStrategy(RandomStrategy(12)), seed=12,
                       executions=40, shrink=False)
    assert log != traces[0]


def test_portfolio_keeps_races_between_the_body_and_its_threads() -> None:
    # Members with the prelude can never fail this body (its update runs before the thread's);
    # the portfolio still has members that search the start-up.
    r = interleave.explore(body_races_with_its_thread, strategy=MainFirstStrategy(RandomStrategy(0)), seed=0,
                           executions=200, shrink=False)
    assert r.failure is None
    for seed in range(5):
        r = interleave.explore(body_races_with_its_thread, seed=seed, executions=100, shrink=False)
        assert r.failure is not None, seed


def test_portfolio_failures_replay() -> None:
    r = interleave.explore(starts_three_then_notes_buggy, seed=1, executions=500)
    assert r.failure is not None
    again = interleave.replay(starts_three_then_notes_buggy, r.failure.token)
    assert again.failure is not None and again.failure.kind == r.failure.kind


def starts_three_then_notes_buggy() -> None:
    c = Counter()

    def inc() -> None:
        for _ in range(2):
            c.value += 1

    ts = [threading.Thread(target=inc) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 6


def test_portfolio_turns_to_the_deep_members_after_the_quick_phase() -> None:
    from collections import Counter as Tally

    from interleave.strategies.portfolio import QUICK_PHASE, PortfolioStrategy

    p = PortfolioStrategy(0)
    p.threaded = True  # as after an execution that ran a thread besides the body
    seen = []
    for _ in range(QUICK_PHASE + 100):
        assert p.new_execution()
        seen.append(p.describe_active())
    quick, deep = Tally(seen[:QUICK_PHASE]), Tally(seen[QUICK_PHASE:])
    # DPOR opens (its first execution is a rounds sample) and reverses a race in its second.
    assert seen[0] == seen[1] == seen[3] == "portfolio[dpor]"
    assert seen[2] == "portfolio[rounds(burst=1) after set-up]"  # reorder_3 falls to it a third of the time
    assert seen[:9].count("portfolio[dpor]") == 5  # the small classics: DPOR's second to fifth
    assert "portfolio[dpor]" not in seen[9:]
    assert quick["portfolio[rounds(burst=1) after set-up]"] >= QUICK_PHASE // 8
    assert "portfolio[pos]" in quick  # a member that searches the body's own start-up
    assert "portfolio[rounds(burst=1) after set-up]" not in deep
    assert deep["portfolio[pct-races(depth=9) after set-up]"] == 50
    assert deep["portfolio[random after set-up]"] == 30


class Flag:
    def __init__(self) -> None:
        self.up = False


def body_spins_until_its_thread_runs() -> None:
    f = Flag()

    def raise_flag() -> None:
        f.up = True

    t = threading.Thread(target=raise_flag)
    t.start()
    while not f.up:  # never waits: only the runtime's fairness bound lets the thread run
        pass
    t.join()


@pytest.mark.timeout(60)
def test_main_first_ends_its_prelude_when_the_body_spins_instead_of_waiting() -> None:
    r = interleave.explore(body_spins_until_its_thread_runs, strategy=MainFirstStrategy(RandomStrategy(0)),
                           seed=0, executions=20, shrink=False)
    assert r.failure is None and r.executions == 20


class Sink:
    def __init__(self) -> None:
        self.total = 0


def long_prefix_then_race() -> None:
    # A lost update reached only after 30 thread-local appends (benchmarks/corpus/long_prefix.py).
    s = Sink()

    def batcher() -> None:
        batch: List[int] = []
        for i in range(30):
            batch.append(i)
        s.total += len(batch)

    def single() -> None:
        s.total += 1

    ts = [threading.Thread(target=batcher), threading.Thread(target=single)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert s.total == 31


def test_portfolio_reverses_a_race_after_a_long_prefix_within_a_few_executions() -> None:
    # Without the DPOR member the default needed a median of 10 executions here (seeds 0-4 on
    # the corpus's long_prefix: 16, 6, 16, 10, 10); DPOR reverses the race in its second
    # execution, the portfolio's second (it was the fourth while DPOR did not open).
    for seed in range(5):
        r = interleave.explore(long_prefix_then_race, seed=seed, executions=50, shrink=False)
        assert r.failure is not None, seed
        assert r.executions <= 2, (seed, r.executions)


def philosophers(n: int) -> None:
    forks = [threading.Lock() for _ in range(n)]

    def dine(i: int) -> None:
        with forks[i]:
            with forks[(i + 1) % n]:
                pass

    ts = [threading.Thread(target=dine, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_the_portfolio_first_execution_is_a_lockstep_sample() -> None:
    """DPOR's first execution takes its new nodes in a rounds sampler's order, so the deadlock
    that needs every philosopher to take a first fork before any takes a second falls at once;
    DPOR alone, which keeps running the current thread at a new node, needs many more."""
    for seed in range(5):
        r = interleave.explore(lambda: philosophers(5), seed=seed, executions=50, shrink=False)
        assert r.failure is not None and r.failure.kind == "deadlock", seed
        assert r.executions == 1, (seed, r.executions)
        assert "found by portfolio[dpor]" in r.failure.report
    alone = interleave.explore(lambda: philosophers(5), strategy="dpor", executions=50, shrink=False)
    assert alone.failure is None or alone.executions > 1


def test_a_first_order_keeps_dpor_exact() -> None:
    """Any choice at a new node explores the same classes: with a rounds guide DPOR still
    counts each class of the locked counters once (it may abandon a few executions as
    redundant, counted apart)."""
    from programs import locked_increments

    from interleave.strategies.dpor import DporStrategy
    from interleave.strategies.main_first import MainFirstStrategy
    from interleave.strategies.rounds import RoundsStrategy

    for threads, classes in ((2, 2), (3, 6), (4, 24)):
        for seed in range(3):
            st = DporStrategy()
            st.first_order = MainFirstStrategy(RoundsStrategy(seed, burst=1))
            r = interleave.explore(locked_increments(threads, 1), strategy=st, executions=1000)
            assert r.failure is None and r.exhausted
            assert st.stats["classes"] == classes, (threads, seed, st.stats)


def test_the_dpor_member_reverses_what_a_read_sees_first() -> None:
    """Most races here are between the setters' writes; the DPOR member reverses the checker's
    reads against them first, and reaches the torn pair in its fourth or fifth execution (in
    depth-first order it spent them on write-write reversals and another member found it
    after 11 to 65 executions)."""
    for seed in range(3):
        r = interleave.explore(three_setters_one_checker, seed=seed, executions=200, shrink=False)
        assert r.failure is not None, seed
        assert "found by portfolio[dpor]" in r.failure.report, (seed, r.executions)
        assert r.executions <= 8, (seed, r.executions)


def test_a_failure_found_by_the_dpor_member_replays() -> None:
    r = interleave.explore(long_prefix_then_race, seed=0, executions=50)
    assert r.failure is not None
    assert "found by portfolio[dpor]" in r.failure.report
    again = interleave.replay(long_prefix_then_race, r.failure.token)
    assert again.failure is not None and again.failure.kind == r.failure.kind == "exception"


def test_dpor_member_gives_its_slots_away_once_its_tree_is_covered() -> None:
    from interleave.strategies.portfolio import PortfolioStrategy

    dpor = interleave.explore(locked_counter, strategy="dpor", executions=100, shrink=False)
    assert dpor.exhausted  # a handful of classes: the DPOR member covers them early
    p = PortfolioStrategy(0)
    r = interleave.explore(locked_counter, strategy=p, seed=0, executions=150, shrink=False)
    # A proof by one member is not the portfolio's: it runs its whole budget.
    assert r.failure is None and r.executions == 150 and not r.exhausted
    assert p.dpor.exhausted() and p.dpor_out
    assert p.dpor.stats["executions"] == dpor.executions < 150 // 6


def test_a_program_that_diverges_under_dpor_is_no_failure_of_the_portfolio() -> None:
    # A count kept across executions picks the threads: the program does not repeat itself
    # under a replayed schedule, which stops DPOR.
    changing_thread_count = guarantee_programs.changing_thread_count
    from interleave.strategies.portfolio import PortfolioStrategy

    alone = interleave.explore(changing_thread_count, strategy="dpor", seed=0, executions=100, shrink=False)
    # Alone, DPOR stops there: no failure, and no proof.
    assert alone.failure is None and not alone.exhausted and alone.executions < 100
    assert alone.stop_reason == "unproved" and alone.not_a_proof == ("divergence",)
    assert "stopped at execution" in alone.warnings[0] and "not a proof" in alone.verdict
    p = PortfolioStrategy(0)
    r = interleave.explore(changing_thread_count, strategy=p, seed=0, executions=100, shrink=False)
    assert r.failure is None and r.executions == 100
    assert p.dpor_out


def counts_alone() -> None:
    box = Counter()
    for _ in range(200):
        box.value += 1
    assert box.value == 200


def test_no_dpor_execution_until_a_second_thread_has_run() -> None:
    # DPOR sees every switch point, a lone thread's too: on a body without threads that would
    # trace each of its instructions for no race to reverse.
    from interleave.strategies.portfolio import PortfolioStrategy

    p = PortfolioStrategy(0)
    r = interleave.explore(counts_alone, strategy=p, seed=0, executions=12, shrink=False)
    assert r.failure is None and r.executions == 12
    # Only the first execution (nothing has run yet to show the body has no threads).
    assert p.dpor.stats["executions"] == 1 and not p.dpor_out
    p = PortfolioStrategy(0)
    interleave.explore(locked_counter, strategy=p, seed=0, executions=4, shrink=False)
    assert p.dpor.stats["executions"] == 2


def test_a_single_execution_is_the_rounds_sample_without_dpor_tracing() -> None:
    """With a budget of one, the portfolio runs DPOR's first-execution sample as itself: the
    same lockstep order finds the philosophers' deadlock, and DPOR never sees a switch point."""
    from interleave.strategies.portfolio import PortfolioStrategy

    for seed in range(5):
        strat = PortfolioStrategy(seed)
        r = interleave.explore(lambda: philosophers(5), strategy=strat, seed=seed, executions=1, shrink=False)
        assert r.failure is not None and r.failure.kind == "deadlock", seed
        assert "found by portfolio[rounds(burst=1) after set-up]" in r.failure.report, r.failure.report
        assert strat.dpor.stats.get("events", 0) == 0 and not strat.dpor.exhausted()
        again = interleave.replay(lambda: philosophers(5), r.failure.token)
        assert again.failure is not None and again.failure.kind == "deadlock"
    two = PortfolioStrategy(0)
    two.expect(2)
    assert two.opening[0] == "dpor"  # a budget of two keeps DPOR's opening
