"""threading.Thread and the thread-introspection functions under the controlled runtime."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, List

import pytest
from runtime_helpers import CORRECT_RUNS, assert_finds, assert_passes

import interleave


class Box:
    """A mutable cell shared between threads."""

    def __init__(self, value: Any = 0) -> None:
        self.value = value


class Adder(threading.Thread):
    """A Thread subclass with run() defined at import time."""

    def __init__(self, box: Box, lock: Any, n: int) -> None:
        super().__init__(name=f"adder-{n}")
        self.box = box
        self.lock = lock
        self.n = n

    def run(self) -> None:
        if self.lock is None:
            self.box.value += self.n
        else:
            with self.lock:
                self.box.value += self.n


# ----------------------------------------------------------------------------- Thread basics
def test_target_args_kwargs_correct() -> None:
    def body() -> None:
        out: Dict[str, Any] = {}
        lock = threading.Lock()

        def work(key: str, value: int, *, scale: int = 1) -> None:
            with lock:
                out[key] = out.get(key, 0) + value * scale

        ts = [threading.Thread(target=work, args=("a", i), kwargs={"scale": 10}) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert out == {"a": 30}

    assert_passes(body, executions=CORRECT_RUNS)


def test_target_args_kwargs_lost_update_found() -> None:
    def body() -> None:
        out: Dict[str, int] = {"a": 0}

        def work(key: str, value: int, *, scale: int = 1) -> None:
            out[key] = out[key] + value * scale

        ts = [threading.Thread(target=work, args=("a", i), kwargs={"scale": 10}) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert out == {"a": 30}

    assert_finds(body)


def test_subclass_with_run_correct() -> None:
    def body() -> None:
        box = Box()
        lock = threading.Lock()
        ts = [Adder(box, lock, n) for n in (1, 2, 3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box.value == 6
        assert [t.name for t in ts] == ["adder-1", "adder-2", "adder-3"]

    assert_passes(body)


def test_subclass_with_run_race_found() -> None:
    def body() -> None:
        box = Box()
        ts = [Adder(box, None, n) for n in (1, 2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box.value == 3

    failure = assert_finds(body, shrink=True)
    assert "adder-1" in failure.report and "adder-2" in failure.report


def test_names_idents_are_stable_and_distinct() -> None:
    seen: List[tuple] = []

    def body() -> None:
        got: Dict[str, tuple] = {}

        def work() -> None:
            me = threading.current_thread()
            got[me.name] = (threading.get_ident(), me.ident, me.native_id, threading.get_native_id())

        ts = [threading.Thread(target=work) for _ in range(2)]
        ts.append(threading.Thread(target=work, name="custom"))
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        names = [t.name for t in ts]
        assert names[2] == "custom"
        assert names[0] != names[1] and all(n.startswith("Thread-") for n in names[:2])
        for t in ts:
            ident, attr_ident, native, get_native = got[t.name]
            assert ident == attr_ident == t.ident
            assert native == get_native == t.native_id
        idents = {t.ident for t in ts} | {threading.get_ident()}
        assert len(idents) == 4
        seen.append((tuple(names), tuple(t.ident for t in ts), tuple(t.native_id for t in ts)))

    assert_passes(body, executions=200)
    assert len(set(seen)) == 1, "names and idents must not depend on the execution"


def test_thread_counter_restarts_each_execution() -> None:
    names: List[str] = []

    def body() -> None:
        t = threading.Thread(target=lambda: None)
        names.append(t.name)

    assert_passes(body, executions=20)
    assert len(set(names)) == 1


def test_is_alive_and_join() -> None:
    def body() -> None:
        started = threading.Event()
        go = threading.Event()

        def work() -> None:
            started.set()
            go.wait()

        t = threading.Thread(target=work)
        assert not t.is_alive() and t.ident is None
        t.start()
        started.wait()
        assert t.is_alive()
        go.set()
        t.join()
        assert not t.is_alive()

    assert_passes(body)


def test_join_timeout_returns_with_thread_alive() -> None:
    def body() -> None:
        go = threading.Event()
        t = threading.Thread(target=go.wait)
        t.start()
        t0 = time.monotonic()
        t.join(timeout=5.0)
        assert t.is_alive()
        assert time.monotonic() - t0 == pytest.approx(5.0)
        go.set()
        t.join()
        assert not t.is_alive()

    assert_passes(body, executions=500)


def test_join_timeout_both_outcomes_explored() -> None:
    outcomes = set()

    def body() -> None:
        box = Box()

        def work() -> None:
            box.value = 1

        t = threading.Thread(target=work)
        t.start()
        t.join(timeout=0.5)
        outcomes.add(t.is_alive())
        t.join()
        assert box.value == 1

    assert_passes(body, executions=300)
    assert outcomes == {True, False}


def test_join_self_and_unstarted_raise() -> None:
    def body() -> None:
        errors: List[str] = []

        def work() -> None:
            try:
                threading.current_thread().join()
            except RuntimeError as exc:
                errors.append(str(exc))

        t = threading.Thread(target=work)
        with pytest.raises(RuntimeError):
            t.join()
        t.start()
        t.join()
        assert errors and "join" in errors[0]

    assert_passes(body, executions=100)


def test_start_twice_raises() -> None:
    def body() -> None:
        t = threading.Thread(target=lambda: None)
        t.start()
        with pytest.raises(RuntimeError):
            t.start()
        t.join()

    assert_passes(body, executions=100)


# ------------------------------------------------------------------- daemon threads
def test_daemon_thread_blocked_forever_does_not_fail() -> None:
    def body() -> None:
        never = threading.Event()
        t = threading.Thread(target=never.wait, daemon=True)
        assert t.daemon
        t.start()
        assert t.is_alive()

    assert_passes(body)


def test_non_daemon_thread_blocked_forever_is_a_deadlock() -> None:
    def body() -> None:
        never = threading.Event()
        t = threading.Thread(target=never.wait, name="stuck")
        t.start()

    failure = assert_finds(body, kind="deadlock", exc=None)
    blocked = {b.thread: b for b in failure.blocked}
    assert set(blocked) == {"MainThread", "stuck"}
    assert "stuck to finish" in blocked["MainThread"].waits_for
    assert "Event.wait()" in blocked["stuck"].waits_for
    assert "stuck" in failure.report and "Event.wait()" in failure.report


def test_daemon_inherited_from_creating_thread() -> None:
    def body() -> None:
        flags: List[bool] = []

        def child() -> None:
            flags.append(threading.current_thread().daemon)

        def parent() -> None:
            c = threading.Thread(target=child)
            c.start()
            c.join()

        p = threading.Thread(target=parent, daemon=True)
        p.start()
        p.join()
        assert flags == [True]

    assert_passes(body, executions=200)


def test_non_daemon_threads_are_joined_at_body_end() -> None:
    done: List[int] = []

    def body() -> None:
        def work() -> None:
            time.sleep(10)
            done.append(1)

        threading.Thread(target=work).start()

    assert_passes(body, executions=50)
    assert len(done) == 50


# ----------------------------------------------------------- introspection functions
def test_current_thread_enumerate_active_count_main_thread() -> None:
    def body() -> None:
        main = threading.main_thread()
        assert threading.current_thread() is main
        base = threading.active_count()
        assert base == len(threading.enumerate())
        go = threading.Event()
        seen: Dict[str, Any] = {}

        def work() -> None:
            me = threading.current_thread()
            seen["me"] = me
            seen["main"] = threading.main_thread()
            seen["listed"] = me in threading.enumerate()
            go.wait()

        t = threading.Thread(target=work)
        t.start()
        assert threading.active_count() == base + 1
        assert t in threading.enumerate()
        go.set()
        t.join()
        assert seen["me"] is t and seen["main"] is main and seen["listed"]
        assert threading.active_count() == base
        assert t not in threading.enumerate()

    assert_passes(body)


def test_enumerate_race_found() -> None:
    """A thread checks active_count() before the other has finished: the order is not fixed."""

    def body() -> None:
        t = threading.Thread(target=lambda: None)
        t.start()
        assert threading.active_count() == 1  # wrong: t may still be running

    assert_finds(body)


# -------------------------------------------------------------------- threading.local
def test_local_is_per_thread() -> None:
    def body() -> None:
        loc = threading.local()
        loc.value = "main"
        results: Dict[int, Any] = {}

        def work(n: int) -> None:
            assert not hasattr(loc, "value")
            loc.value = n
            interleave.switch()
            results[n] = loc.value

        ts = [threading.Thread(target=work, args=(n,)) for n in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert results == {0: 0, 1: 1, 2: 2}
        assert loc.value == "main"

    assert_passes(body, executions=CORRECT_RUNS)


def test_local_subclass_init_runs_per_thread() -> None:
    class Ctx(threading.local):
        def __init__(self) -> None:
            self.items: List[int] = []

    def body() -> None:
        ctx = Ctx()

        def work(n: int) -> None:
            ctx.items.append(n)
            interleave.switch()
            assert ctx.items == [n]

        ts = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert ctx.items == []

    assert_passes(body)


def test_shared_object_instead_of_local_found() -> None:
    def body() -> None:
        ctx = Box(None)

        def work(n: int) -> None:
            ctx.value = n
            interleave.switch()
            assert ctx.value == n

        ts = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    failure = assert_finds(body)
    assert "Thread-" in (failure.thread or "")


# ------------------------------------------------------------------ threading.excepthook
def test_user_excepthook_inside_run_is_called() -> None:
    def body() -> None:
        caught: List[Any] = []
        threading.excepthook = lambda args: caught.append((args.exc_type, args.thread))

        def work() -> None:
            raise KeyError("boom")

        t = threading.Thread(target=work)
        t.start()
        t.join()
        assert caught == [(KeyError, t)]

    before = threading.excepthook
    assert_passes(body, executions=200)
    assert threading.excepthook is before


def test_user_excepthook_that_raises_fails_the_run() -> None:
    def body() -> None:
        def hook(args: Any) -> None:
            raise RuntimeError("hook broke")

        threading.excepthook = hook
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()

    failure = assert_finds(body, exc=RuntimeError, executions=20)
    assert failure.thread == "Thread-1 (<lambda>)" or failure.thread == "Thread-1"
    assert isinstance(failure.exception.__context__, ZeroDivisionError)


# ------------------------------------------------------------------------------ Timer
def test_timer_fires_after_virtual_interval() -> None:
    def body() -> None:
        fired: List[float] = []
        t0 = time.monotonic()
        timer = threading.Timer(30.0, lambda: fired.append(time.monotonic() - t0))
        timer.start()
        timer.join()
        assert fired == [pytest.approx(30.0)]

    assert_passes(body)


def test_timer_cancel_stops_later_firing_and_both_outcomes_explored() -> None:
    """Any timeout may expire before the canceller runs (time is a scheduling choice), but
    after cancel() and join() the function never runs again."""
    outcomes = set()

    def body() -> None:
        fired: List[int] = []
        timer = threading.Timer(10.0, fired.append, args=(1,))
        timer.start()
        time.sleep(1.0)
        timer.cancel()
        timer.join()
        seen = list(fired)
        time.sleep(100.0)
        assert fired == seen and fired in ([], [1])
        outcomes.add(len(fired))

    assert_passes(body, executions=CORRECT_RUNS)
    assert outcomes == {0, 1}


def test_timer_assumed_cancelled_in_time_found() -> None:
    def body() -> None:
        fired: List[int] = []
        timer = threading.Timer(1.0, fired.append, args=(1,))
        timer.start()
        timer.cancel()
        timer.join()
        assert fired == []

    assert_finds(body)


# ----------------------------------------------------------------- nested / many threads
def test_threads_started_by_threads_are_controlled() -> None:
    def body() -> None:
        box = Box()
        lock = threading.Lock()

        def leaf() -> None:
            with lock:
                box.value += 1

        def branch() -> None:
            ts = [threading.Thread(target=leaf) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        ts = [threading.Thread(target=branch) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box.value == 4

    assert_passes(body)


def test_threads_started_by_threads_race_found() -> None:
    def body() -> None:
        box = Box()

        def leaf() -> None:
            box.value += 1

        def branch() -> None:
            t = threading.Thread(target=leaf)
            t.start()
            leaf()
            t.join()

        t = threading.Thread(target=branch)
        t.start()
        t.join()
        assert box.value == 2

    assert_finds(body)


def test_low_level_start_new_thread() -> None:
    import _thread

    def body() -> None:
        box = Box()
        lock = threading.Lock()
        done = threading.Semaphore(0)

        def work(n: int) -> None:
            with lock:
                box.value += n
            done.release()

        _thread.start_new_thread(work, (1,))
        _thread.start_new_thread(work, (2,))
        done.acquire()
        done.acquire()
        assert box.value == 3

    assert_passes(body)


# ----------------------------------------------------------------------------- reused greenlets
def test_each_thread_starts_without_context_variables_in_every_execution() -> None:
    # Threads of later executions run on greenlets that earlier threads used: what an earlier
    # thread set must not be visible, as a real new thread starts with an empty context.
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: List[str] = []

    def work() -> None:
        seen.append(var.get())
        var.set("set by a thread")

    def body() -> None:
        work()  # the body too: its greenlet is reused from one execution to the next
        ts = [threading.Thread(target=work) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    r = interleave.explore(body, executions=20, seed=0)
    assert r.failure is None
    assert seen == ["unset"] * 80


def test_a_finished_threads_objects_are_freed_between_executions() -> None:
    # A thread's greenlet outlives it (it is reused): it must keep nothing of the thread, or
    # the objects would be freed, and their finalizers run, inside the next execution.
    import _thread
    import gc
    import weakref

    class Payload:
        pass

    alive: List[Any] = []
    leaked: List[int] = []

    def body() -> None:
        leaked.extend(1 for ref in alive if ref() is not None)
        alive.clear()
        p = Payload()
        alive.append(weakref.ref(p))
        done = threading.Lock()
        done.acquire()

        def work(p: Payload) -> None:
            done.release()

        _thread.start_new_thread(work, (p,))
        done.acquire()
        del p
        gc.collect()

    r = interleave.explore(body, executions=10, seed=0)
    assert r.failure is None
    assert leaked == []


def test_thread_started_deep_in_a_thread_has_the_same_room_in_every_execution() -> None:
    # A greenlet keeps the recursion depth it was first started at: a reused greenlet started
    # deep inside a thread would start later threads deeper and deeper, until RecursionError.
    depths: List[int] = []

    def room(n: int = 0) -> int:
        try:
            return room(n + 1)
        except RecursionError:
            return n

    def measure() -> None:
        depths.append(room())

    def deep(n: int) -> None:
        if n:
            deep(n - 1)
            return
        t = threading.Thread(target=measure)
        t.start()
        t.join()

    def body() -> None:
        t = threading.Thread(target=deep, args=(150,))
        t.start()
        t.join()

    r = interleave.explore(body, executions=12, seed=0)
    assert r.failure is None
    # Where a thread's greenlet is first entered (from the scheduler or from another thread's
    # switch point) depends on the schedule, and moves the room by a few frames; a greenlet
    # reused from deep inside a thread would take about 150 frames more at every execution.
    assert len(depths) == 12 and max(depths) - min(depths) <= 10, depths


@pytest.mark.skipif(not interleave.versions.CURRENT.recursion_offsets,
                    reason="greenlets are cheap to start here: every thread gets a new one")
def test_threads_started_at_one_depth_reuse_their_greenlets_with_the_same_room() -> None:
    # Starting a greenlet allocates a frame-stack chunk (3.11+): a thread runs on an idle worker
    # greenlet first entered at the same recursion depth, which gives it the room a new one would.
    import greenlet

    seen: List[Any] = []
    rooms: List[int] = []

    def room(n: int = 0) -> int:
        try:
            return room(n + 1)
        except RecursionError:
            return n

    def work() -> None:
        seen.append(greenlet.getcurrent())
        rooms.append(room())

    def body() -> None:
        for _ in range(2):  # one at a time: a thread measuring its room runs alone
            t = threading.Thread(target=work)
            t.start()
            t.join()

    r = interleave.explore(body, strategy="random", executions=20, seed=0)
    assert r.failure is None and len(seen) == 40
    # Each greenlet object is held in ``seen``, so a new greenlet per thread would give 40.
    assert len({id(g) for g in seen}) <= 2
    assert len(set(rooms)) == 1, rooms


def test_an_execution_frees_its_threads_and_locks_without_the_cycle_collector() -> None:
    # A wait queue refers to its owner (a virtual thread, a lock) weakly: an execution's threads
    # and primitives go when it ends, not at a collection a few executions later.
    import weakref

    from interleave.session import Session
    from interleave.strategies.random_walk import RandomStrategy

    refs: List[Any] = []

    def body() -> None:
        lock = threading.Lock()
        box = Box()

        def work() -> None:
            with lock:
                box.value += 1

        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        with lock:  # contended in some schedules: the lock gets a wait queue
            box.value += 1
        for t in ts:
            t.join()
        refs.extend(weakref.ref(x) for x in (*ts, lock, box))

    with Session(body, model="instruction", max_steps=10_000) as session:
        strategy = RandomStrategy(0)
        for i in range(20):
            session.run_once(strategy, i)
            assert [r() for r in refs] == [None] * 4, i
            refs.clear()


def _wait_in_user_code(ev: threading.Event) -> None:
    ev.wait()


@pytest.mark.parametrize("strategy", ["random", "dpor", "portfolio"])
@pytest.mark.parametrize("backend", ["auto", "settrace"])
def test_current_frames_lists_every_thread_enumerate_lists(strategy: str, backend: str) -> None:
    """The stack-dump idiom: ``sys._current_frames()[t.ident]`` for every ``t`` in ``threading.enumerate()``.

    A thread waiting in code under test stands at its own line; one whose target is the standard
    library's may not have run yet, and still has a frame.
    """
    import sys
    import traceback

    def body() -> None:
        ev = threading.Event()
        ts = [threading.Thread(target=_wait_in_user_code, args=(ev,), name="mine"),
              threading.Thread(target=ev.wait, name="stdlib")]
        for t in ts:
            t.start()
        frames = sys._current_frames()
        dump = {t.name: traceback.format_stack(frames[t.ident]) for t in threading.enumerate()}
        ev.set()
        for t in ts:
            t.join()
        assert {"MainThread", "mine", "stdlib"} <= set(dump), dump  # and real threads other tests left
        assert "body" in dump["MainThread"][-1]
        for name in ("mine", "stdlib"):  # in its own code or threading's, or yet to run: in its bootstrap
            innermost = dump[name][-1]
            assert f"{os.sep}interleave{os.sep}" not in innermost or "_bootstrap_thread" in innermost, dump[name]

    real = sys._current_frames
    if backend == "settrace" and sys.version_info < (3, 12):
        backend = "auto"
    result = interleave.explore(body, executions=100, seed=0, strategy=strategy, backend=backend)
    assert result.failure is None, result.failure.report
    assert sys._current_frames is real
