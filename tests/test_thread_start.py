"""How a Thread starts and is joined inside a run: the state threading's own bootstrap leaves.

Inside a run a plain Thread (threading's own ``_bootstrap``) is started by ``sync/threads.py``
directly, without threading's start handshake (up to 3.12); these tests pin what that must
still leave behind, and that a class with its own bootstrap still has it run.
"""

from __future__ import annotations

import threading
from typing import Any, List

import pytest
from runtime_helpers import assert_passes

from interleave.versions import CURRENT

TSTATE_LOCK = not CURRENT.thread_handles  # Thread.join waits on a tstate lock up to 3.12


def _nothing() -> None:
    pass


def test_a_started_threads_event_is_a_plain_set_event() -> None:
    seen: List[Any] = []

    def body() -> None:
        t = threading.Thread(target=_nothing)
        t.start()
        seen.append((type(t._started), t._started.is_set()))  # type: ignore[attr-defined]
        t.join()
        seen.append((type(t._started), t._started.is_set()))  # type: ignore[attr-defined]

    assert_passes(body, executions=50)
    assert set(seen) == {(threading.Event, True)}


def test_a_thread_waiting_on_anothers_started_event_is_woken_by_its_start() -> None:
    def body() -> None:
        t = threading.Thread(target=_nothing)
        woke: List[bool] = []
        waiter = threading.Thread(target=lambda: woke.append(t._started.wait()))  # type: ignore[attr-defined]
        waiter.start()
        t.start()
        t.join()
        waiter.join()
        assert woke == [True]

    assert_passes(body, executions=200)


@pytest.mark.parametrize("step", ["_bootstrap_inner", "_set_ident"])
def test_a_subclass_overriding_a_private_start_step_has_it_run(step: str) -> None:
    def body() -> None:
        ran: List[str] = []
        inherited = getattr(threading.Thread, step)

        def own(self: threading.Thread) -> None:
            ran.append(step)
            inherited(self)

        traced = type("Traced", (threading.Thread,), {step: own})
        t = traced(target=lambda: ran.append("target"))
        t.start()
        t.join()
        assert ran == [step, "target"] and t.ident is not None
        assert not t.is_alive()

    assert_passes(body, executions=50)


@pytest.mark.skipif(not TSTATE_LOCK, reason="3.13's join does not go through Thread._stop")
def test_a_subclass_overriding_stop_has_it_run_by_join() -> None:
    def body() -> None:
        stopped: List[bool] = []

        class Traced(threading.Thread):
            def _stop(self) -> None:
                stopped.append(True)
                super()._stop()  # type: ignore[misc]

        t = Traced(target=_nothing)
        t.start()
        t.join()
        assert stopped and not t.is_alive()

    assert_passes(body, executions=50)


def test_ident_native_id_and_registries_while_running_and_after_join() -> None:
    def body() -> None:
        go = threading.Event()
        t = threading.Thread(target=go.wait)
        t.start()
        assert t.ident is not None and t.native_id == t.ident
        assert threading._active.get(t.ident) is t  # type: ignore[attr-defined]
        assert t not in threading._limbo  # type: ignore[attr-defined]
        assert t.is_alive() and t in threading.enumerate()
        go.set()
        t.join()
        assert not t.is_alive() and t not in threading.enumerate()
        assert t.ident not in threading._active  # type: ignore[attr-defined]

    assert_passes(body, executions=100)


@pytest.mark.skipif(not TSTATE_LOCK, reason="3.13 joins on a thread handle, not a tstate lock")
def test_the_tstate_lock_is_held_while_the_thread_runs_and_dropped_by_join() -> None:
    def body() -> None:
        go = threading.Event()
        t = threading.Thread(target=go.wait)
        t.start()
        lock = t._tstate_lock  # type: ignore[attr-defined]
        assert lock is not None and lock.locked()
        t.join(timeout=0)
        assert t.is_alive() and t._tstate_lock is lock  # type: ignore[attr-defined]
        go.set()
        t.join()
        assert t._tstate_lock is None and t._is_stopped  # type: ignore[attr-defined]
        assert not lock.locked()

    assert_passes(body, executions=100)


def test_two_threads_joining_one_both_return() -> None:
    def body() -> None:
        go = threading.Event()
        t = threading.Thread(target=go.wait)
        t.start()
        joined: List[bool] = []

        def joiner() -> None:
            t.join()
            joined.append(t.is_alive())

        js = [threading.Thread(target=joiner) for _ in range(2)]
        for j in js:
            j.start()
        go.set()
        for j in js:
            j.join()
        assert joined == [False, False]

    assert_passes(body, executions=300)


@pytest.mark.skipif(not TSTATE_LOCK, reason="3.13 keeps no shutdown locks")
def test_a_run_leaves_threadings_shutdown_locks_as_it_found_them() -> None:
    before = set(threading._shutdown_locks)  # type: ignore[attr-defined]

    def body() -> None:
        ts = [threading.Thread(target=_nothing) for _ in range(2)]
        for t in ts:
            t.start()
        ts[0].join()  # the other is joined at the body's end, as at interpreter exit

    assert_passes(body, executions=50)
    assert set(threading._shutdown_locks) == before  # type: ignore[attr-defined]
