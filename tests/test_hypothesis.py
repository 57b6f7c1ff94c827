"""Hypothesis integration: schedules() finds, shrinks and stores interleavings; strategy="hypothesis"."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Callable, List

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase
from slow_release import SlowRelease

import interleave
from interleave.hypothesis import Schedule, ScheduleDraws, schedules

pytest_plugins = ["pytester"]


class Counter:
    """Unlocked counter: two concurrent increments can lose one."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1


def lost_update(n: int = 2) -> Callable[[], None]:
    """A body: n threads increment once each, then the total is checked."""

    def body() -> None:
        c = Counter()
        ts = [threading.Thread(target=c.increment) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == n, f"lost an update: {c.value} of {n}"

    return body


def locked_counter() -> None:
    """The fixed body: the increment holds a lock."""
    c = Counter()
    lock = threading.Lock()

    def inc() -> None:
        with lock:
            c.increment()

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


def deadlock() -> None:
    """Two threads take two locks in opposite orders."""
    a, b = threading.Lock(), threading.Lock()

    def one() -> None:
        with a:
            with b:
                pass

    def two() -> None:
        with b:
            with a:
                pass

    ts = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


# derandomize: the same examples every run. These tests check what interleave does with the
# examples Hypothesis finds; random generation made one of them fail now and then under load.
QUICK = settings(max_examples=200, database=None, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck),
                 phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))


def run_given(test: Callable[[], None]) -> BaseException:
    """Run a @given test that must fail; return what it raised."""
    with pytest.raises(BaseException) as info:
        test()
    return info.value


def reported_preemptions(result: interleave.Result) -> int:
    """Preemptions in the interleaving a failure report shows (its table marks each one)."""
    assert result.failure is not None
    return sum(1 for e in result.failure.trace if e.preempted_before)


def test_schedules_find_the_lost_update_and_shrink_it_to_one_preemption() -> None:
    """The reported interleaving of the lost update has exactly one preemption, inside an increment."""
    seen: List[Schedule] = []

    @QUICK
    @given(schedule=schedules())
    def check(schedule: Schedule) -> None:
        seen.append(schedule)
        schedule.run(lost_update())

    exc = run_given(check)
    assert isinstance(exc, AssertionError) and "lost an update: 1 of 2" in str(exc)
    final = seen[-1]  # Hypothesis replays the shrunk example last, to report it
    assert final.result is not None and final.result.failure is not None
    assert reported_preemptions(final.result) == 1
    assert 1 <= len(final.preemptions) <= 2  # Hypothesis's own example: shrunk, if not always minimal
    preempted = [e for e in final.result.failure.trace if e.preempted_before]
    assert preempted[0].tid in (1, 2) and preempted[0].function == "increment"
    notes = "\n".join(getattr(exc, "__notes__", []))
    assert "Interleaving (one column per thread)" in notes and "Replay token: il1_" in notes
    # The token in the note replays the same failure outside Hypothesis.
    again = interleave.replay(lost_update(), final.result.failure.token)
    assert again.failure is not None and "lost an update: 1 of 2" in str(again.failure.exception)
    assert "preemption(s)" in repr(final)


def test_schedules_shrink_inputs_and_interleaving_together() -> None:
    """With the thread count drawn beside the schedule, both shrink: 2 threads, one preemption."""
    seen: List[Any] = []

    @QUICK
    @given(n=st.integers(1, 5), schedule=schedules())
    def check(n: int, schedule: Schedule) -> None:
        seen.append((n, schedule))
        schedule.run(lost_update(n))

    exc = run_given(check)
    assert isinstance(exc, AssertionError)
    n, final = seen[-1]
    assert n == 2 and reported_preemptions(final.result) == 1


def test_three_threads_still_shrink_to_one_preemption() -> None:
    """Three threads: the minimal interleaving still needs one preemption, whatever Hypothesis stopped at."""
    seen: List[Schedule] = []

    @QUICK
    @given(schedule=schedules())
    def check(schedule: Schedule) -> None:
        seen.append(schedule)
        schedule.run(lost_update(3))

    exc = run_given(check)
    assert isinstance(exc, AssertionError) and "lost an update: 2 of 3" in str(exc)
    assert reported_preemptions(seen[-1].result) == 1


def test_no_preemption_allowed_means_no_lost_update() -> None:
    """schedules(max_preemptions=0) runs every thread until it blocks or ends: the lost update cannot happen."""
    count = []

    @QUICK
    @given(schedule=schedules(max_preemptions=0))
    def check(schedule: Schedule) -> None:
        count.append(1)
        schedule.run(lost_update())
        assert schedule.preemptions == []

    check()
    assert len(count) > 1


def test_correct_code_passes_every_schedule() -> None:
    """The locked counter passes all the schedules Hypothesis draws."""

    @QUICK
    @given(schedule=schedules())
    def check(schedule: Schedule) -> None:
        result = schedule.run(locked_counter)
        assert result.failure is None

    check()


def test_a_deadlock_raises_interleave_failure() -> None:
    """Deadlocks are not exceptions of the body: they raise InterleaveFailure with the report."""

    @QUICK
    @given(schedule=schedules())
    def check(schedule: Schedule) -> None:
        schedule.run(deadlock)

    exc = run_given(check)
    assert isinstance(exc, interleave.InterleaveFailure)
    assert "deadlock" in exc.report


def test_failing_example_is_stored_and_replayed_first() -> None:
    """Hypothesis's database keeps the failing schedule: the next run fails on its first example."""
    db = InMemoryExampleDatabase()
    calls: List[int] = []

    def make() -> Callable[[], None]:
        @settings(QUICK, database=db)
        @given(schedule=schedules())
        def test_stored(schedule: Schedule) -> None:
            calls.append(1)
            schedule.run(lost_update())

        return test_stored

    run_given(make())
    assert any(db.data.values())
    calls.clear()
    run_given(make())
    # Reuse phase: the stored minimal example first, then the final report run.
    assert len(calls) <= 2


def test_schedules_rejects_a_bad_cap() -> None:
    """max_preemptions must be a non-negative integer."""
    with pytest.raises(interleave.OptionError, match="max_preemptions"):
        schedules(max_preemptions=-1)


def test_schedule_draws_take_the_simplest_choice_when_draws_are_zero() -> None:
    """All-zero draws: no preemption, lowest runnable thread first (the schedule Hypothesis shrinks toward)."""
    strat = ScheduleDraws(lambda lo, hi: lo)
    result = interleave.explore(lost_update(), executions=3, strategy=strat, seed=0, shrink=False)
    assert result.failure is None and strat.preemptions == 0


def test_strategy_hypothesis_finds_and_stores_the_race(tmp_path: Any) -> None:
    """strategy="hypothesis": Hypothesis's engine drives explore; its database replays the failure first."""
    db = InMemoryExampleDatabase()
    before = threading.enumerate()
    previous = settings._current_profile
    settings.register_profile("interleave-test-db", database=db)
    settings.load_profile("interleave-test-db")
    try:
        body = lost_update()
        first = interleave.explore(body, strategy="hypothesis", executions=500, seed=1)
        assert first.failure is not None and first.strategy == "hypothesis"
        assert "lost an update" in str(first.failure.exception)
        assert any(db.data.values())
        again = interleave.explore(body, strategy="hypothesis", executions=500, seed=2)
        assert again.failure is not None and again.executions == 1
        fixed = interleave.explore(locked_counter, strategy="hypothesis", executions=150, seed=1)
        assert fixed.failure is None and fixed.executions == 150
        capped = interleave.explore(lost_update(), strategy="hypothesis", executions=100, seed=1, preemptions=0)
        assert capped.failure is None and capped.strategy == "hypothesis(preemptions<=0)"
    finally:
        settings.load_profile(previous or "default")
    # The engine's thread is the harness's own: threading does not list it, nothing is left behind
    # (a threading.Thread for the engine, started by any earlier test, would be listed).
    assert threading.enumerate() == before
    assert not [t for t in threading.enumerate() if "hypothesis" in t.name.lower()]


def test_strategy_hypothesis_engine_is_idle_when_explore_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    """explore ends Hypothesis's run itself, even while the strategy is still referenced.

    Left to the strategy's finalizer, the engine thread ran Hypothesis's end of run (which
    formats tracebacks, so parses source) whenever the collector fired, concurrently with the
    caller: on 3.11 a concurrent ``ast.parse`` failed with "AST constructor recursion depth
    mismatch" in the next test's collection.
    """
    from interleave.strategies import hypothesis_driven, registry

    made: List[Any] = []
    real_make = registry.make

    def keep(*args: Any, **kwargs: Any) -> Any:
        made.append(real_make(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(registry, "make", keep)
    for body in (lost_update(), locked_counter):
        interleave.explore(body, strategy="hypothesis", executions=30, seed=3)
        assert made[-1]._channel_id not in hypothesis_driven._CHANNELS
        channel = hypothesis_driven._serving
        # The engine has left this run; its thread waits for the next job.
        assert channel is not None and channel.shut and channel.done
    # A strategy dropped without close() does not stop the engine from the finalizer; the next
    # exploration's start does, before anything else runs.
    dropped = hypothesis_driven.HypothesisStrategy(seed=0)
    dropped.choose([0], 0, 0)
    old = hypothesis_driven._serving
    assert old is not None
    made.clear()
    del dropped
    assert not old.shut
    interleave.explore(locked_counter, strategy="hypothesis", executions=2, seed=4)
    assert old.shut and old.done



@pytest.mark.parametrize("body", [lost_update(), locked_counter], ids=["failing", "passing"])
def test_strategy_hypothesis_leaves_random_as_it_was_whenever_the_engine_runs(
        monkeypatch: pytest.MonkeyPatch, body: Callable[[], None]) -> None:
    """The engine restores the global random it seeded for an example when that example ends; the
    state explore puts back must be read before the engine is let go, never after."""
    import random

    from interleave.strategies import hypothesis_driven

    real_lock = hypothesis_driven._real_lock
    monkeypatch.setattr(hypothesis_driven, "_real_lock", lambda: SlowRelease(real_lock()))
    random.seed(12345)
    before = random.getstate()
    interleave.explore(body, strategy="hypothesis", executions=20, seed=1, exclude=["slow_release"])
    assert random.getstate() == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_strategy_hypothesis_works_in_a_forked_child() -> None:
    """A forked child has no copy of the engine's thread: its exploration starts one instead of
    waiting forever for a thread that is not there (it did, before the thread was reset at fork)."""
    assert interleave.explore(lost_update(), strategy="hypothesis", executions=20, seed=1).failure is not None
    pid = os.fork()
    if pid == 0:  # the child: a verdict in its exit code, never an exception out of the test
        code = 3
        try:
            r = interleave.explore(lost_update(), strategy="hypothesis", executions=20, seed=1)
            code = 0 if r.failure is not None and r.strategy == "hypothesis" else 4
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's hypothesis exploration hung")


def test_strategy_hypothesis_carries_on_when_the_engine_stops_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that never answers costs ENGINE_PATIENCE, then seeded draws run the exploration."""
    from interleave.strategies import hypothesis_driven

    monkeypatch.setattr(hypothesis_driven, "ENGINE_PATIENCE", 0.2)
    monkeypatch.setattr(hypothesis_driven, "_engine", lambda *args: None)  # takes the job, never answers
    monkeypatch.setattr(hypothesis_driven, "_engine_thread", hypothesis_driven.LingeringThread())
    monkeypatch.setattr(hypothesis_driven, "_serving", None)
    r = interleave.explore(locked_counter, strategy="hypothesis", executions=5, seed=1)
    assert r.failure is None and r.executions == 5
    silent = hypothesis_driven._engine_thread
    found = interleave.explore(lost_update(), strategy="hypothesis", executions=200, seed=1)
    assert found.failure is not None
    # The next exploration does not queue behind the engine that stopped answering.
    assert hypothesis_driven._engine_thread is not silent


def test_strategy_hypothesis_rejects_other_parameters() -> None:
    """Only preemptions= is a parameter of the hypothesis strategy."""
    with pytest.raises(interleave.OptionError, match="takes only preemptions"):
        interleave.explore(locked_counter, strategy="hypothesis", executions=1, depth=2)


def test_schedules_in_a_pytest_run(pytester: pytest.Pytester) -> None:
    """Through pytest: the falsifying example, then the report with its token, in the test's failure."""
    pytester.makepyfile(test_sched='''
import threading
from hypothesis import given, settings
from interleave.hypothesis import schedules


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1


@settings(database=None, deadline=None)
@given(schedule=schedules())
def test_lost_update(schedule):
    def body():
        c = Counter()
        ts = [threading.Thread(target=c.increment) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == 2, "lost an update"
    schedule.run(body)
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "AssertionError: lost an update" in text
    assert "Replay token: il1_" in text
    assert "1 preemption" in text
