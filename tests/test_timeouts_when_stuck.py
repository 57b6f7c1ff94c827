"""``timeouts="when-stuck"``: a pending timeout runs out only when no thread can run.

The default (``anytime``) lets the earliest pending timeout run out while other threads could
still run, so a timeout a test adds only so that it never hangs fails at once; with
``when-stuck`` it does its job (it ends a wait nothing else will end) and nothing more.
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from typing import List, Set

import dpor_programs as P
import pytest
from hypothesis import given, settings
from runtime_helpers import assert_finds

import interleave
from interleave.errors import OptionError
from interleave.hypothesis import Schedule as HypothesisSchedule
from interleave.hypothesis import schedules
from interleave.strategies import registry
from interleave.strategies.exhaustive import ExhaustiveStrategy
from interleave.strategies.portfolio import PortfolioStrategy
from interleave.token import Schedule, decode, encode

ALL_STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


def safety_nets() -> None:
    """Correct code whose waits all carry timeouts that only keep the test from hanging."""
    lock = threading.Lock()
    done = threading.Event()
    box = [0]

    def work() -> None:
        for _ in range(2):
            with lock:
                box[0] += 1
        done.set()

    t = threading.Thread(target=work)
    t.start()
    assert done.wait(timeout=5), "worker never finished"
    t.join(timeout=10)
    assert not t.is_alive(), "worker hung"
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        assert pool.submit(pow, 2, 3).result(timeout=5) == 8
    assert box[0] == 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_safety_net_timeouts_never_run_out_early_under_every_strategy(strategy: str, backend: str) -> None:
    if strategy == "dpor":
        with pytest.raises(OptionError, match="strategy 'dpor' cannot run with timeouts='when-stuck'"):
            interleave.explore(safety_nets, executions=40, strategy=strategy, backend=backend, timeouts="when-stuck")
        return
    r = interleave.explore(safety_nets, executions=40, seed=0, strategy=strategy, backend=backend,
                           timeouts="when-stuck")
    assert r.failure is None, r.failure.report
    assert r.executions == 40 or r.exhausted, r.verdict


def test_by_default_a_safety_net_runs_out_early_and_the_report_names_the_option() -> None:
    failure = assert_finds(safety_nets, executions=50, shrink=True)
    assert "Timeouts that ran out while other threads could still run" in failure.report
    assert 'timeouts="when-stuck"' in failure.report
    assert "--interleave-timeouts=when-stuck" in failure.report


def test_a_safety_net_still_ends_a_wait_that_nothing_else_ends() -> None:
    """A worker stuck for good: the join's timeout runs out (no deadlock), and the test's check fails."""

    def body() -> None:
        never = threading.Event()
        t = threading.Thread(target=never.wait)
        t.start()
        t.join(timeout=10)
        assert not t.is_alive(), "worker hung"

    r = interleave.explore(body, executions=20, seed=0, timeouts="when-stuck")
    assert r.failure is not None and r.failure.kind == "exception", r.verdict
    assert "worker hung" in str(r.failure.exception)
    assert "timeouts when stuck" in r.failure.report.splitlines()[1]
    assert "Timeouts that ran out while other threads could still run" not in r.failure.report
    again = interleave.replay(body, r.failure.token)
    assert again.failure is not None and "worker hung" in str(again.failure.exception)


@pytest.mark.parametrize("timeouts, expected", [("anytime", {False, True}), ("when-stuck", {True})])
def test_a_sleep_ends_only_once_every_other_thread_waits(timeouts: str, expected: Set[bool]) -> None:
    """Sleeping is a timeout too: when stuck, the sleeper wakes only after the other thread is done."""
    seen: List[bool] = []

    def body() -> None:
        flag = [False]

        def other() -> None:
            for _ in range(3):
                flag[0] = flag[0]

        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.5)
        seen.append(not t.is_alive())
        t.join()

    r = interleave.explore(body, executions=5_000, strategy="exhaustive", preemptions=2, timeouts=timeouts)
    assert r.exhausted, r.verdict
    assert set(seen) == expected


def test_the_token_records_when_timeouts_ran_out() -> None:
    runs = ((0, 3), (1, 2))
    stuck = Schedule(runs, timeouts="when-stuck")
    assert decode(encode(stuck)).timeouts == "when-stuck"
    assert decode(encode(Schedule(runs))).timeouts == "anytime"
    assert encode(stuck) != encode(Schedule(runs))


def test_a_replay_follows_the_tokens_timeouts_not_the_default() -> None:
    """Replayed, a when-stuck failure needs no option, and under anytime the same runs would differ.

    While the body sleeps the worker is the only thread that can run (when stuck), so it runs
    alone and its steps are not counted; the same runs replayed with the sleep's timeout
    pending too would cut the worker short and let the body wake first.
    """
    seen: List[List[int]] = []

    def body() -> None:
        got: List[int] = []
        go = threading.Event()

        def work() -> None:
            for i in range(5):
                got.append(i)
            go.wait()

        t = threading.Thread(target=work)
        t.start()
        time.sleep(1)
        seen.append(list(got))
        go.set()
        t.join()
        assert len(got) < 5, "the worker ran first"

    r = interleave.explore(body, executions=20, seed=0, strategy="random", timeouts="when-stuck", shrink=False)
    assert r.failure is not None, r.verdict
    seen.clear()
    again = interleave.replay(body, r.failure.token)
    assert again.failure is not None and seen == [[0, 1, 2, 3, 4]], (seen, again.verdict)


@pytest.mark.parametrize("value", ["never", None, 1, "WHEN-STUCK"])
def test_a_wrong_timeouts_value_is_an_option_error_that_lists_the_choices(value: object) -> None:
    with pytest.raises(OptionError, match="timeouts must be one of 'anytime', 'when-stuck'"):
        interleave.explore(safety_nets, executions=1, timeouts=value)  # type: ignore[arg-type]


def test_a_loop_spinning_until_a_sleep_ends_is_a_step_limit_that_names_the_sleeper() -> None:
    """When stuck, a busy loop keeps the other thread's sleep pending: the report says who waits, and why."""

    def body() -> None:
        flag = [False]

        def setter() -> None:
            time.sleep(1)
            flag[0] = True

        t = threading.Thread(target=setter)
        t.start()
        time.sleep(0.5)  # when stuck, this ends only once the setter sleeps too
        while not flag[0]:
            pass
        t.join()

    r = interleave.explore(body, executions=5, seed=0, timeouts="when-stuck", max_steps=3000)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    report = r.failure.report
    assert "Waiting when the limit was reached:" in report
    assert "waits for the end of its sleep, due at 1 s (virtual time)" in report
    assert "time.sleep(1)" in report
    assert "the looping thread never waited" in report


def test_a_step_limit_report_lists_the_threads_that_wait_and_for_what() -> None:
    """A livelock's loop often waits for a blocked thread: the step-limit report names it (any timeouts)."""

    def body() -> None:
        lock = threading.Lock()
        flag = [False]

        def worker() -> None:
            with lock:
                flag[0] = True

        lock.acquire()
        t = threading.Thread(target=worker)
        t.start()
        while not flag[0]:  # the worker can never take the lock: spins for ever
            pass

    r = interleave.explore(body, executions=5, seed=0, max_steps=3000)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    report = r.failure.report
    assert "Waiting when the limit was reached:" in report
    assert "Thread-1 (worker) waits for Lock" in report, report
    assert "the looping thread never waited" not in report


def test_exhaustive_search_offers_a_timeout_only_when_no_thread_can_run() -> None:
    """The runtime's rule, over every schedule: a timed get against a put times out only anytime."""
    body, record, _ = P.make_body([[("timedget", 0.1)], [("put", 1)]])
    got = {}
    for mode in ("anytime", "when-stuck"):
        seen, _, done = P.outcomes(body, record, ExhaustiveStrategy(None), 2000, timeouts=mode)
        assert done
        got[mode] = {o[1][4] for o in seen}
    assert got["anytime"] == {("('t0', 'tq', 1)",), ("('t0', 'tq', None)",)}, got
    assert got["when-stuck"] == {("('t0', 'tq', 1)",)}, got


def test_the_portfolio_leaves_its_dpor_member_out_when_stuck() -> None:
    """DPOR refuses these timeouts; the default strategy runs its other members in DPOR's slots."""
    for timeouts, dpor_runs in (("anytime", True), ("when-stuck", False)):
        strategy = PortfolioStrategy(3)
        interleave.explore(safety_nets, executions=12, seed=3, strategy=strategy, timeouts=timeouts)
        assert (strategy.dpor.stats["executions"] > 0) is dpor_runs, (timeouts, strategy.dpor.stats)


class PatientCounter:
    """A locked counter whose lock has a safety-net timeout: it never runs out sequentially."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def increment(self) -> int:
        if not self._lock.acquire(timeout=5):
            raise TimeoutError("lock busy")
        try:
            self.value += 1
            return self.value
        finally:
            self._lock.release()


@pytest.mark.parametrize("shared", [True, False], ids=["shared-session", "explore-per-scenario"])
def test_lincheck_takes_the_timeouts_rule(shared: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """By default a waiting increment can time out, a result no sequential order gives; not when stuck."""
    from interleave import lincheck
    from interleave.lincheck import engine

    monkeypatch.setattr(engine, "AVAILABLE", shared)
    ops = [lincheck.op(PatientCounter.increment)]
    early = lincheck.check(PatientCounter, ops, threads=2, ops_per_thread=1, scenarios=5, executions=50, seed=0)
    assert early.failure is not None and "TimeoutError" in early.failure.report
    patient = lincheck.check(PatientCounter, ops, threads=2, ops_per_thread=2, scenarios=5, executions=50,
                             seed=0, timeouts="when-stuck")
    assert patient.failure is None, patient.failure.report
    assert patient.executions > 5
    with pytest.raises(OptionError, match="timeouts must be one of"):
        lincheck.check(PatientCounter, ops, scenarios=1, executions=1, timeouts="never")
    with pytest.raises(OptionError, match="cannot run with timeouts='when-stuck'"):
        lincheck.check(PatientCounter, ops, scenarios=1, executions=1, strategy="dpor", timeouts="when-stuck")


def test_hypothesis_schedules_take_the_timeouts_rule() -> None:
    """``schedule.run(body, timeouts=...)`` is explore's option: safety nets hold when stuck."""
    seen: List[str] = []

    @settings(max_examples=30, database=None, deadline=None, derandomize=True)
    @given(schedule=schedules())
    def check(schedule: HypothesisSchedule) -> None:
        r = schedule.run(safety_nets, timeouts="when-stuck")
        seen.append(r.timeouts)

    check()
    assert seen and set(seen) == {"when-stuck"}

    @settings(max_examples=30, database=None, deadline=None, derandomize=True, report_multiple_bugs=False)
    @given(schedule=schedules())
    def default(schedule: HypothesisSchedule) -> None:
        schedule.run(safety_nets)

    with pytest.raises(AssertionError, match="worker never finished|worker hung"):
        default()


def test_a_pollers_expired_timeouts_are_one_line_per_wait_and_the_report_suggests_max_steps() -> None:
    """An endless poll lets its wait run out thousands of times: the report says it once, with a count."""

    def body() -> None:
        ev = threading.Event()
        stop: List[int] = []

        def poller() -> None:
            while not stop:
                ev.wait(0.01)

        def other() -> None:
            for _ in range(3):
                ev.is_set()

        ts = [threading.Thread(target=poller), threading.Thread(target=other)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    r = interleave.explore(body, strategy="exhaustive", executions=1, max_steps=4000, shrink=False)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    report = r.failure.report
    lines = [line for line in report.splitlines() if "Event.wait() on Event at" in line and "timed out" in line]
    assert len(lines) == 1, lines
    times = int(lines[0].split("timed out ")[1].split(" times")[0])
    # The early ones, while ``other`` could run: after EARLY_TIMEOUTS of them it runs (fairness.py).
    assert times >= 50, lines[0]
    assert "from 0.01 s to " in lines[0]
    assert "max_steps=" in report
    assert len(report.splitlines()) < 120, len(report.splitlines())
