"""The harness's own OS threads (watchdogs, Hypothesis's engine): reused between explorations, gone once they stop."""

from __future__ import annotations

import _thread
import os
import threading
import time
from typing import List

import pytest

import interleave
from interleave.runtime import lingering_thread as watch_thread
from interleave.runtime.lingering_thread import LingeringThread


def _run_and_wait(server: LingeringThread, seen: List[int]) -> None:
    done = _thread.allocate_lock()
    done.acquire()

    def job() -> None:
        seen.append(_thread.get_ident())
        done.release()

    server.run(job)
    assert done.acquire(True, 10), "the job did not run"


def _wait_until_gone(server: LingeringThread, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while server.alive and time.monotonic() < end:
        time.sleep(0.01)
    assert not server.alive, "the thread did not end after lingering"


def test_jobs_in_a_row_run_on_one_thread_which_ends_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_thread, "LINGER_SECONDS", 0.2)
    server = LingeringThread()
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
    server = LingeringThread()
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
    _wait_until_gone(watch_thread.WATCH_THREAD)
    # An exploration over before the thread took its job has it replaced by the next one's.
    assert 1 <= len(idents) <= 3 and len(set(idents)) == 1


def test_a_job_handed_over_while_another_runs_waits_and_the_latest_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_thread, "LINGER_SECONDS", 0.2)
    server = LingeringThread()
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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_watches_its_own_explorations(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child of a fork has no copy of the watching thread: its first exploration starts one,
    so a real block there still ends as RealBlockingError instead of hanging the child."""
    from interleave.runtime import watchdog

    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)
    assert interleave.explore(lambda: None, executions=1).failure is None  # the parent's thread is up
    assert watch_thread.WATCH_THREAD.alive
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a verdict in its exit code, never an exception out of the test
        code = 3
        try:
            def reader() -> None:
                os.read(r, 1)  # nobody writes

            def body() -> None:
                t = threading.Thread(target=reader)
                t.start()
                t.join()

            try:
                interleave.explore(body, executions=1, seed=0)
                code = 1
            except interleave.RealBlockingError:
                code = 0
        finally:
            os._exit(code)
    try:
        end = time.monotonic() + 30
        status = None
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child's exploration hung: no watchdog ran there")
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        os.close(r)
        os.close(w)
