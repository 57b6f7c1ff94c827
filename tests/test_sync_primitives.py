"""Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event and Barrier under the runtime.

Each primitive gets a correct program that must never fail (2,000 random executions) and a
buggy one whose bug must be found; timed waits must be explored both ways.
"""

from __future__ import annotations

import threading
import time
from typing import Any, List, Set

import pytest
from runtime_helpers import CORRECT_RUNS, QUICK_RUNS, assert_finds, assert_passes, run_threads

import interleave


class State:
    """Shared counters for the programs below."""

    def __init__(self) -> None:
        self.inside = 0
        self.count = 0
        self.items: List[int] = []
        self.log: List[Any] = []


# ------------------------------------------------------------------------------------ Lock
def test_lock_mutual_exclusion() -> None:
    def body() -> None:
        s = State()
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(2):
                with lock:
                    s.inside += 1
                    assert s.inside == 1
                    s.count += 1
                    s.inside -= 1

        run_threads(worker, worker)
        assert s.count == 4 and not lock.locked()

    assert_passes(body, executions=CORRECT_RUNS)


def test_lock_missing_found() -> None:
    def body() -> None:
        s = State()

        def worker() -> None:
            s.inside += 1
            assert s.inside == 1
            s.inside -= 1

        run_threads(worker, worker)

    assert_finds(body)


def test_lock_acquire_release_explicit_and_nonblocking() -> None:
    def body() -> None:
        lock = threading.Lock()
        got: List[bool] = []

        def other() -> None:
            got.append(lock.acquire(blocking=False))
            if got[-1]:
                lock.release()

        assert lock.acquire()
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert got == [False]
        lock.release()
        with pytest.raises(RuntimeError):
            lock.release()
        with pytest.raises(ValueError):
            lock.acquire(False, 1.0)

    assert_passes(body)


def test_lock_acquire_timeout_both_outcomes() -> None:
    outcomes: Set[bool] = set()

    def body() -> None:
        lock = threading.Lock()
        lock.acquire()
        t = threading.Thread(target=lock.release)
        t.start()
        t0 = time.monotonic()
        ok = lock.acquire(timeout=2.0)
        waited = time.monotonic() - t0
        if ok:
            assert waited <= 2.0
            lock.release()
        else:
            assert waited == pytest.approx(2.0)
        outcomes.add(ok)
        t.join()

    assert_passes(body, executions=400)
    assert outcomes == {True, False}


def test_lock_order_inversion_deadlock_found() -> None:
    def body() -> None:
        a, b = threading.Lock(), threading.Lock()

        def one() -> None:
            with a:
                with b:
                    pass

        def two() -> None:
            with b:
                with a:
                    pass

        run_threads(one, two)

    failure = assert_finds(body, kind="deadlock", exc=None)
    waits = {b.thread: b for b in failure.blocked}
    workers = [w for name, w in waits.items() if name != "MainThread"]
    assert len(workers) == 2
    assert {w.holder for w in workers} == {w.thread for w in workers}


# ----------------------------------------------------------------------------------- RLock
def test_rlock_reentrant_and_exclusive() -> None:
    def body() -> None:
        s = State()
        lock = threading.RLock()

        def inner() -> None:
            with lock:
                s.inside += 1
                assert s.inside == 1
                s.count += 1
                s.inside -= 1

        def worker() -> None:
            with lock:
                inner()
                inner()

        run_threads(worker, worker)
        assert s.count == 4

    assert_passes(body, executions=CORRECT_RUNS)


def test_rlock_release_by_non_owner_raises() -> None:
    def body() -> None:
        lock = threading.RLock()
        errors: List[type] = []

        def thief() -> None:
            try:
                lock.release()
            except RuntimeError as exc:
                errors.append(type(exc))

        lock.acquire()
        t = threading.Thread(target=thief)
        t.start()
        t.join()
        lock.release()
        assert errors == [RuntimeError]

    assert_passes(body, executions=300)


def test_rlock_check_then_act_found() -> None:
    """Each access is locked, but the check and the act are two critical sections."""

    def body() -> None:
        s = State()
        lock = threading.RLock()

        def take() -> None:
            with lock:
                empty = s.count == 0
            if empty:
                with lock:
                    s.count += 1

        run_threads(take, take)
        assert s.count == 1

    assert_finds(body)


def test_lock_instead_of_rlock_self_deadlock_found() -> None:
    def body() -> None:
        lock = threading.Lock()

        def worker() -> None:
            with lock:
                with lock:
                    pass

        run_threads(worker)

    failure = assert_finds(body, kind="deadlock", exc=None)
    assert any(b.holder == b.thread for b in failure.blocked)


# ------------------------------------------------------------------------------- Condition
def test_condition_wait_notify_producer_consumer() -> None:
    def body() -> None:
        s = State()
        cond = threading.Condition()
        got: List[int] = []

        def producer() -> None:
            for i in range(3):
                with cond:
                    s.items.append(i)
                    cond.notify()

        def consumer() -> None:
            for _ in range(3):
                with cond:
                    while not s.items:
                        cond.wait()
                    got.append(s.items.pop(0))

        run_threads(consumer, producer)
        assert got == [0, 1, 2]

    assert_passes(body, executions=CORRECT_RUNS)


def test_condition_wait_for_and_notify_all() -> None:
    def body() -> None:
        s = State()
        cond = threading.Condition(threading.Lock())
        seen: List[int] = []

        def waiter() -> None:
            with cond:
                assert cond.wait_for(lambda: s.count >= 2)
                seen.append(s.count)

        def bumper() -> None:
            for _ in range(2):
                with cond:
                    s.count += 1
                    cond.notify_all()

        run_threads(waiter, waiter, bumper)
        assert seen == [2, 2]

    assert_passes(body)


def test_condition_if_instead_of_while_found() -> None:
    def body() -> None:
        s = State()
        cond = threading.Condition()

        def consumer() -> None:
            with cond:
                if not s.items:
                    cond.wait()
                s.items.pop()  # IndexError when another consumer got there first

        def producer() -> None:
            with cond:
                s.items.append(1)
                cond.notify_all()
            with cond:
                s.items.append(2)
                cond.notify_all()

        run_threads(consumer, consumer, producer)

    assert_finds(body, exc=IndexError)


def test_condition_lost_wakeup_deadlock_found() -> None:
    def body() -> None:
        cond = threading.Condition()

        def waiter() -> None:
            with cond:
                cond.wait()  # no predicate: a notify before this wait is lost

        def notifier() -> None:
            with cond:
                cond.notify()

        run_threads(waiter, notifier)

    failure = assert_finds(body, kind="deadlock", exc=None)
    assert any("Condition.wait()" in b.waits_for for b in failure.blocked)


def test_condition_wait_timeout_both_outcomes() -> None:
    outcomes: Set[bool] = set()

    def body() -> None:
        s = State()
        cond = threading.Condition()

        def setter() -> None:
            with cond:
                s.count = 1
                cond.notify()

        t = threading.Thread(target=setter)
        t.start()
        with cond:
            ok = cond.wait_for(lambda: s.count == 1, timeout=1.0)
            assert ok == (s.count == 1)
        outcomes.add(ok)
        t.join()

    assert_passes(body, executions=400)
    assert outcomes == {True, False}


def test_condition_wait_without_lock_raises() -> None:
    def body() -> None:
        cond = threading.Condition()
        with pytest.raises(RuntimeError):
            cond.wait(0.1)
        with pytest.raises(RuntimeError):
            cond.notify()

    assert_passes(body, executions=20)


# ------------------------------------------------------------------------------- Semaphore
@pytest.mark.parametrize("kind", [threading.Semaphore, threading.BoundedSemaphore])
def test_semaphore_bounds_concurrency(kind: Any) -> None:
    def body() -> None:
        s = State()
        sem = kind(2)
        count_lock = threading.Lock()  # two threads are inside at once: the counter needs its own lock
        peak: List[int] = []

        def worker() -> None:
            with sem:
                with count_lock:
                    s.inside += 1
                    peak.append(s.inside)
                    assert s.inside <= 2
                interleave.switch()
                with count_lock:
                    s.inside -= 1

        run_threads(worker, worker, worker)
        assert max(peak) <= 2

    # BoundedSemaphore is a Semaphore subclass that only adds a check on release().
    assert_passes(body, executions=CORRECT_RUNS if kind is threading.Semaphore else QUICK_RUNS)


def test_semaphore_too_wide_found() -> None:
    def body() -> None:
        s = State()
        sem = threading.Semaphore(3)  # the code below assumes at most 2 at once
        count_lock = threading.Lock()

        def worker() -> None:
            with sem:
                with count_lock:
                    s.inside += 1
                    assert s.inside <= 2
                interleave.switch()
                with count_lock:
                    s.inside -= 1

        run_threads(worker, worker, worker)

    assert_finds(body)


def test_semaphore_as_signal_and_timeout_both_outcomes() -> None:
    outcomes: Set[bool] = set()

    def body() -> None:
        sem = threading.Semaphore(0)
        t = threading.Thread(target=sem.release)
        t.start()
        ok = sem.acquire(timeout=3.0)
        outcomes.add(ok)
        t.join()
        if not ok:
            assert sem.acquire(blocking=False)

    assert_passes(body, executions=400)
    assert outcomes == {True, False}


def test_bounded_semaphore_over_release_found() -> None:
    def body() -> None:
        sem = threading.BoundedSemaphore(1)
        s = State()

        def worker() -> None:
            sem.acquire()
            s.count += 1
            if s.count == 1:  # check-then-act: both may see 1 ... or release twice
                sem.release()
            sem.release()

        run_threads(worker, worker)

    assert_finds(body, exc=ValueError)


def test_bounded_semaphore_release_too_many_raises() -> None:
    def body() -> None:
        sem = threading.BoundedSemaphore(1)
        with pytest.raises(ValueError):
            sem.release()
        sem.acquire()
        sem.release()

    assert_passes(body, executions=20)


# ----------------------------------------------------------------------------------- Event
def test_event_publishes_data() -> None:
    def body() -> None:
        s = State()
        ready = threading.Event()

        def publisher() -> None:
            s.items.extend([1, 2, 3])
            ready.set()

        def reader() -> None:
            assert ready.wait()
            assert s.items == [1, 2, 3]

        run_threads(reader, reader, publisher)
        assert ready.is_set()

    assert_passes(body, executions=CORRECT_RUNS)


def test_event_set_before_publish_found() -> None:
    def body() -> None:
        s = State()
        ready = threading.Event()

        def publisher() -> None:
            ready.set()
            s.items.extend([1, 2, 3])

        def reader() -> None:
            ready.wait()
            assert s.items == [1, 2, 3]

        run_threads(reader, publisher)

    assert_finds(body)


def test_event_set_then_clear_missed_found() -> None:
    def body() -> None:
        ev = threading.Event()

        def pulser() -> None:
            ev.set()
            ev.clear()

        run_threads(ev.wait, pulser)

    failure = assert_finds(body, kind="deadlock", exc=None)
    assert any("Event.wait()" in b.waits_for for b in failure.blocked)


def test_event_wait_timeout_both_outcomes() -> None:
    outcomes: Set[bool] = set()

    def body() -> None:
        ev = threading.Event()
        t = threading.Thread(target=ev.set)
        t.start()
        t0 = time.monotonic()
        ok = ev.wait(timeout=0.25)
        assert ev.is_set() or not ok
        if not ok:
            assert time.monotonic() - t0 == pytest.approx(0.25)
        outcomes.add(ok)
        t.join()

    assert_passes(body, executions=400)
    assert outcomes == {True, False}


# --------------------------------------------------------------------------------- Barrier
def test_barrier_phases() -> None:
    def body() -> None:
        parties = 3
        barrier = threading.Barrier(parties)
        phase1: List[int] = []
        indices: List[int] = []

        def worker(n: int) -> None:
            phase1.append(n)
            indices.append(barrier.wait())
            assert sorted(phase1) == list(range(parties))

        ts = [threading.Thread(target=worker, args=(n,)) for n in range(parties)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(indices) == list(range(parties))
        assert barrier.n_waiting == 0 and not barrier.broken

    assert_passes(body, executions=CORRECT_RUNS)


def test_barrier_missing_found() -> None:
    def body() -> None:
        phase1: List[int] = []

        def worker(n: int) -> None:
            phase1.append(n)
            assert sorted(phase1) == [0, 1]

        ts = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    assert_finds(body)


def test_barrier_action_runs_once_per_cycle() -> None:
    def body() -> None:
        actions: List[int] = []
        barrier = threading.Barrier(2, action=lambda: actions.append(1))

        def worker() -> None:
            for _ in range(2):
                barrier.wait()

        run_threads(worker, worker)
        assert actions == [1, 1]

    assert_passes(body)


def test_barrier_abort_breaks_waiters() -> None:
    def body() -> None:
        barrier = threading.Barrier(3)
        outcome: List[str] = []

        def waiter() -> None:
            try:
                barrier.wait()
                outcome.append("passed")
            except threading.BrokenBarrierError:
                outcome.append("broken")

        ts = [threading.Thread(target=waiter) for _ in range(2)]
        for t in ts:
            t.start()
        barrier.abort()
        for t in ts:
            t.join()
        assert outcome == ["broken", "broken"]
        assert barrier.broken
        with pytest.raises(threading.BrokenBarrierError):
            barrier.wait()
        barrier.reset()
        assert not barrier.broken

    assert_passes(body)


def test_barrier_abort_unhandled_found() -> None:
    def body() -> None:
        barrier = threading.Barrier(2)

        def waiter() -> None:
            barrier.wait()

        t = threading.Thread(target=waiter)
        t.start()
        barrier.abort()
        t.join()

    failure = assert_finds(body, exc=threading.BrokenBarrierError)
    assert failure.thread != "MainThread"


def test_barrier_timeout_both_outcomes() -> None:
    outcomes: Set[str] = set()

    def body() -> None:
        barrier = threading.Barrier(2)
        results: List[str] = []

        def party() -> None:
            try:
                barrier.wait(timeout=1.0)
                results.append("ok")
            except threading.BrokenBarrierError:
                results.append("broken")

        run_threads(party, party)
        assert results in (["ok", "ok"], ["broken", "broken"])
        outcomes.add(results[0])

    assert_passes(body, executions=400)
    assert outcomes == {"ok", "broken"}
