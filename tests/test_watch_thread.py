"""The watchdogs' OS thread: reused between explorations, gone once they stop."""

from __future__ import annotations

import _thread
import time
from typing import List

import pytest

import interleave
from interleave.runtime import watch_thread
from interleave.runtime.watch_thread import WatchThread


def _run_and_wait(server: WatchThread, seen: List[int]) -> None:
    done = _thread.allocate_lock()
    done.acquire()

    def job() -> None:
        seen.append(_thread.get_ident())
        done.release()

    server.run(job)
    assert done.acquire(True, 10), "the job did not run"


def _wait_until_gone(server: WatchThread, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while server.alive and time.monotonic() < end:
        time.sleep(0.01)
    assert not server.alive, "the thread did not end after lingering"


def test_jobs_in_a_row_run_on_one_thread_which_ends_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_thread, "LINGER_SECONDS", 0.2)
    server = WatchThread()
    seen: List[int] = []
    for _ in range(5):
        _run_and_wait(server, seen)
    assert len(set(seen)) == 1 and seen[0] != _thread.get_ident()
    _wait_until_gone(server)
    _run_and_wait(server, seen)  # a job after the thread ended starts a new one
    assert len(seen) == 6
    _wait_until_gone(server)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failing_job_does_not_stop_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_thread, "LINGER_SECONDS", 0.2)
    server = WatchThread()
    failed = _thread.allocate_lock()
    failed.acquire()

    def bad() -> None:
        failed.release()
        raise RuntimeError("boom (expected by the test)")

    server.run(bad)
    assert failed.acquire(True, 10)
    _wait_until_gone(server)
    seen: List[int] = []
    _run_and_wait(server, seen)
    assert seen
    _wait_until_gone(server)


def test_explorations_reuse_the_watchdog_thread_and_leave_none_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_thread, "LINGER_SECONDS", 0.3)
    idents: List[int] = []
    real_run = watch_thread.WATCH_THREAD.run

    def spy(job):  # type: ignore[no-untyped-def]
        def wrapped() -> None:
            idents.append(_thread.get_ident())
            job()
        real_run(wrapped)

    monkeypatch.setattr(watch_thread.WATCH_THREAD, "run", spy)
    for seed in range(3):
        r = interleave.explore(lambda: None, executions=2, seed=seed)
        assert r.failure is None
    # An exploration over before the thread took its job has it replaced by the next one's.
    assert 1 <= len(idents) <= 3 and len(set(idents)) == 1
    _wait_until_gone(watch_thread.WATCH_THREAD)


def test_a_job_handed_over_while_another_runs_waits_and_the_latest_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_thread, "LINGER_SECONDS", 0.2)
    server = WatchThread()
    gate = _thread.allocate_lock()
    gate.acquire()
    ran: List[str] = []
    finished = _thread.allocate_lock()
    finished.acquire()

    def first() -> None:
        ran.append("first")
        gate.acquire(True, 10)

    def dropped() -> None:
        ran.append("dropped")

    def last() -> None:
        ran.append("last")
        finished.release()

    server.run(first)
    while not ran:
        time.sleep(0.001)
    server.run(dropped)
    server.run(last)  # replaces the one still waiting
    gate.release()
    assert finished.acquire(True, 10)
    assert ran == ["first", "last"]
    _wait_until_gone(server)
