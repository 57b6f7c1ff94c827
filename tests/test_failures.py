"""What a run reports when it fails: exceptions, deadlocks, step limits, and what is left over."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, List

import pytest
from runtime_helpers import assert_finds, assert_passes

import interleave
from interleave.strategies import registry


class Box:
    """A mutable cell shared between threads."""

    def __init__(self, value: Any = 0) -> None:
        self.value = value


# ------------------------------------------------------------------------------ exceptions
def test_exception_in_body_is_reported_with_the_body_as_thread() -> None:
    def body() -> None:
        raise KeyError("in the body")

    failure = assert_finds(body, exc=KeyError, executions=5)
    assert failure.thread == "MainThread"
    assert "KeyError" in failure.report and "in the body" in failure.report


def test_uncaught_thread_exception_fails_even_when_body_passes() -> None:
    def body() -> None:
        def worker() -> None:
            raise ValueError("worker broke")

        t = threading.Thread(target=worker, name="worker")
        t.start()
        t.join()
        # the body itself is happy

    failure = assert_finds(body, exc=ValueError, executions=5)
    assert failure.thread == "worker"
    assert "worker broke" in failure.report
    assert "worker" in failure.report and "uncaught" in failure.report


def test_uncaught_exception_in_unjoined_daemon_thread_fails() -> None:
    def body() -> None:
        threading.Thread(target=lambda: [][1], daemon=True).start()
        time.sleep(1.0)

    assert_finds(body, exc=IndexError, executions=200)


def test_exception_only_in_some_interleavings_is_found_in_a_thread() -> None:
    def body() -> None:
        data: List[int] = []

        def reader() -> None:
            if data:
                data.pop()
            assert not data or data[0] is not None

        def writer() -> None:
            data.append(1)
            data.append(2)

        ts = [threading.Thread(target=reader, name="reader"), threading.Thread(target=writer)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(data) == 2

    failure = assert_finds(body)
    assert failure.thread in ("MainThread", "reader")


def test_system_exit_in_a_thread_is_not_a_failure() -> None:
    def body() -> None:
        def quitter() -> None:
            raise SystemExit(3)

        t = threading.Thread(target=quitter)
        t.start()
        t.join()
        assert not t.is_alive()

    assert_passes(body, executions=50)


# ------------------------------------------------------------------------------- deadlock
@pytest.mark.parametrize("strategy", registry.names())
def test_system_exit_of_the_body_is_a_failure_found_and_replayed(strategy: str) -> None:
    """pytest fails a test that calls sys.exit; explore must not pass it (every execution did)."""

    def body() -> None:
        box = [0]

        def bump() -> None:
            v = box[0]
            box[0] = v + 1

        ts = [threading.Thread(target=bump) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if box[0] != 2:
            sys.exit("lost an update")  # a CLI's error path

    r = interleave.explore(body, executions=300, seed=1, strategy=strategy)
    assert r.failure is not None and isinstance(r.failure.exception, SystemExit), r
    assert "SystemExit in MainThread" in r.failure.report
    again = interleave.replay(body, r.failure.token)
    assert again.failure is not None and isinstance(again.failure.exception, SystemExit)


def test_deadlock_report_names_each_blocked_thread_what_and_where() -> None:
    def body() -> None:
        left, right = threading.Lock(), threading.Lock()

        def one() -> None:
            with left:
                time.sleep(0.1)
                with right:
                    pass

        def two() -> None:
            with right:
                time.sleep(0.1)
                with left:
                    pass

        ts = [threading.Thread(target=one, name="one"), threading.Thread(target=two, name="two")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    failure = assert_finds(body, kind="deadlock", exc=None)
    blocked = {b.thread: b for b in failure.blocked}
    assert set(blocked) == {"MainThread", "one", "two"}
    assert blocked["one"].holder == "two" and blocked["two"].holder == "one"
    assert "Lock" in blocked["one"].waits_for
    assert blocked["one"].where is not None and blocked["one"].where[0] == __file__
    assert blocked["one"].where[2] == "one" and blocked["two"].where[2] == "two"
    assert "join" in blocked["MainThread"].waits_for
    report = failure.report
    assert "Deadlock" in report
    for name in ("one", "two", "MainThread"):
        assert name in report
    assert "with right:" in report and "with left:" in report


def test_deadlock_on_a_condition_nobody_notifies() -> None:
    def body() -> None:
        cond = threading.Condition()
        with cond:
            cond.wait()

    failure = assert_finds(body, kind="deadlock", exc=None, executions=5)
    (only,) = failure.blocked
    assert only.thread == "MainThread" and "Condition.wait()" in only.waits_for
    assert only.where is not None and only.where[2] == "body"


def test_no_deadlock_when_a_timer_is_pending() -> None:
    """Everyone waits, but a timed wait will expire: that is not a deadlock."""

    def body() -> None:
        ev = threading.Event()
        assert not ev.wait(timeout=30.0)

    assert_passes(body, executions=20)


# ------------------------------------------------------------------------------ step limit
def test_step_limit_reports_the_looping_lines() -> None:
    def body() -> None:
        box = Box()
        while box.value >= 0:  # never ends
            box.value += 1

    failure = assert_finds(body, kind="step-limit", exc=None, executions=3, max_steps=2000)
    # Alone, the thread's loop iterations are its steps: the limit is reached exactly.
    assert failure.steps == 2000 and "took 2000 steps" in failure.report
    assert "box.value += 1" in failure.report
    assert "while box.value >= 0" in failure.report


def test_livelock_between_threads_hits_the_step_limit() -> None:
    """Two threads each politely wait for the other to go first: nobody ever does."""

    def body() -> None:
        class Polite:
            a_done = False
            b_done = False

        p = Polite()

        def a() -> None:
            while not p.b_done:
                pass
            p.a_done = True

        def b() -> None:
            while not p.a_done:
                pass
            p.b_done = True

        ts = [threading.Thread(target=a, name="a"), threading.Thread(target=b, name="b")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    failure = assert_finds(body, kind="step-limit", exc=None, executions=3, max_steps=2000)
    assert "while not p.b_done" in failure.report and "while not p.a_done" in failure.report


def test_step_limit_option_is_validated() -> None:
    with pytest.raises(interleave.OptionError):
        interleave.explore(lambda: None, max_steps=0)


@pytest.mark.parametrize("name", ["time_budget", "stall_timeout"])
@pytest.mark.parametrize("bad", [float("nan"), -1.0, 0, "10", True])
def test_seconds_options_are_validated(name: str, bad: object) -> None:
    # NaN compared false with 0 and passed before session 13, giving a budget that never ran out.
    with pytest.raises(interleave.OptionError, match=f"{name} must be a positive number of seconds"):
        interleave.explore(lambda: None, **{name: bad})


# -------------------------------------------------------- what is left at the end of a run
@pytest.mark.timeout(60)
def test_failure_while_threads_hold_and_wait_for_locks_does_not_hang() -> None:
    """Unwinding leftovers runs their finally blocks: none may block the OS thread."""
    log: List[str] = []

    def body() -> None:
        lock = threading.Lock()
        cond = threading.Condition(lock)
        flag = Box(False)

        def waiter() -> None:
            with cond:
                flag.value = True
                cond.wait()  # on unwinding, wait() re-takes the lock that holder keeps

        def holder() -> None:
            while not flag.value:
                time.sleep(0.1)
            with lock:
                time.sleep(10)

        ts = [threading.Thread(target=waiter), threading.Thread(target=holder)]
        for t in ts:
            t.start()
        time.sleep(5)
        log.append("failing")
        raise RuntimeError("body gives up")

    for seed in range(5):
        r = interleave.explore(body, executions=50, seed=seed, shrink=False)
        assert r.failure is not None and isinstance(r.failure.exception, RuntimeError)
    assert log


@pytest.mark.timeout(60)
def test_thread_that_swallows_the_unwinding_is_abandoned_not_hung() -> None:
    def body() -> None:
        gate = threading.Event()

        def stubborn() -> None:
            while True:
                try:
                    gate.wait()
                except BaseException:  # noqa: BLE001 - deliberately swallows everything
                    pass

        threading.Thread(target=stubborn, daemon=True).start()

    assert_passes(body, executions=3)
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()


def test_exception_raised_while_a_thread_is_unwound_does_not_mask_the_finding() -> None:
    def body() -> None:
        gate = threading.Event()

        def messy() -> None:
            try:
                gate.wait()
            finally:
                raise OSError("cleanup failed")

        threading.Thread(target=messy, daemon=True).start()
        raise KeyError("the real finding")

    failure = assert_finds(body, exc=KeyError, executions=5)
    assert "the real finding" in failure.report


def test_daemon_threads_alive_at_the_end_are_unwound_each_execution() -> None:
    unwound: List[int] = []

    def body() -> None:
        gate = threading.Event()

        def daemon() -> None:
            try:
                gate.wait()
            finally:
                unwound.append(1)

        threading.Thread(target=daemon, daemon=True).start()

    assert_passes(body, executions=30)
    assert len(unwound) == 30
    assert threading.active_count() == len(threading.enumerate())


class Stop(BaseException):
    """Not an Exception: what a test runner's timeout or Ctrl-C looks like."""


@pytest.mark.parametrize("where", ["body", "thread"])
def test_base_exceptions_stop_the_exploration_instead_of_becoming_findings(where: str) -> None:
    runs: List[int] = []

    def raiser() -> None:
        raise Stop()

    def body() -> None:
        runs.append(1)
        if where == "body":
            raiser()
        t = threading.Thread(target=raiser)
        t.start()
        t.join()

    with pytest.raises(Stop):
        interleave.explore(body, executions=50, seed=1)
    assert runs == [1]
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()

