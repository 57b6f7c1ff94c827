"""A thread started before the run, outside it, that waits in an object the run adopted is named.

interleave schedules only the threads a run starts. A service thread a fixture started waits on
the real internals of a queue or event that the run made cooperative, so during the run it never
answers: a test that relies on it fails (a timeout runs out, or every virtual thread waits) where
it would pass for real. The failure stands, but its report must say why it may not be real.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from typing import Callable, Iterator

import pytest

import interleave

REQUESTS: queue.Queue[int] = queue.Queue()
ANSWERS: queue.Queue[int] = queue.Queue()
READY = threading.Event()
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1)


def _doubler() -> None:
    while True:
        n = REQUESTS.get()
        if n < 0:
            return
        ANSWERS.put(n * 2)


def _waiter() -> None:
    READY.wait()


def _outside(target: Callable[[], None], name: str, stop: Callable[[], None]) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture
def doubler() -> Iterator[threading.Thread]:
    yield from _outside(_doubler, "doubler", lambda: REQUESTS.put(-1))


@pytest.fixture
def waiter() -> Iterator[threading.Thread]:
    yield from _outside(_waiter, "waiter", READY.set)
    READY.clear()


def _ask(timeout: float | None) -> None:
    REQUESTS.put(21)
    assert ANSWERS.get(timeout=timeout) == 42


@pytest.mark.parametrize("timeout", [5.0, None], ids=["timeout-runs-out", "deadlock"])
def test_a_service_thread_started_outside_the_run_is_named_in_the_report(doubler: threading.Thread,
                                                                        timeout: float | None) -> None:
    result = interleave.explore(lambda: _ask(timeout), executions=5, seed=0)
    assert result.failure is not None
    assert result.failure.kind == ("exception" if timeout else "deadlock"), result.failure.report
    report = result.failure.report
    assert "WARNING: thread 'doubler' was started before the run" in report, report
    assert "queue.Queue.get()" in report and "in _doubler)" in report, report
    assert "test_outside_threads.py:" in report, report
    # The replay of its token says so too.
    again = interleave.replay(lambda: _ask(timeout), result.failure.token)
    assert again.failure is not None and "thread 'doubler'" in again.failure.report


def test_a_thread_waiting_on_an_event_outside_the_run_is_named(waiter: threading.Thread) -> None:
    def body() -> None:
        READY.set()
        raise AssertionError("fails on purpose")

    result = interleave.explore(body, executions=1, seed=0)
    assert result.failure is not None
    assert "thread 'waiter'" in result.failure.report and "threading.Event.wait()" in result.failure.report


def test_no_warning_for_outside_threads_that_wait_elsewhere() -> None:
    """A thread waiting on its own object, and a pre-run pool's idle worker, are not named."""
    own = threading.Event()
    loner = threading.Thread(target=own.wait, name="loner", daemon=True)
    loner.start()
    POOL.submit(int).result(timeout=10)  # a real worker, idle in its queue
    try:
        counter = {"n": 0}

        def bump() -> None:
            n = counter["n"]
            counter["n"] = n + 1

        def body() -> None:
            counter["n"] = 0
            ts = [threading.Thread(target=bump) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            POOL.submit(int).result()
            assert counter["n"] == 2

        result = interleave.explore(body, executions=200, seed=0)
        assert result.failure is not None
        assert "WARNING: thread" not in result.failure.report, result.failure.report
    finally:
        own.set()
        loner.join(timeout=10)
        assert not loner.is_alive()


COND = threading.Condition()
DONE = {"v": False}


def test_an_outside_waiter_on_a_prerun_condition_is_still_woken_after_the_run() -> None:
    """The run sets the Condition's outside waiters aside, and gives them back: not dropped."""
    def wait_for_done() -> None:
        with COND:
            COND.wait_for(lambda: DONE["v"])

    outside = threading.Thread(target=wait_for_done, name="outside", daemon=True)
    outside.start()
    try:
        def body() -> None:
            with COND:
                COND.notify_all()

        result = interleave.explore(body, executions=20, seed=0)
        assert result.failure is None, result.failure.report
    finally:
        with COND:
            DONE["v"] = True
            COND.notify_all()
        outside.join(timeout=10)
    assert not outside.is_alive(), "the outside thread was never woken: its waiter was dropped"
