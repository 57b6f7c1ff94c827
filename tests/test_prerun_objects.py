"""Objects created before the run (at import time, in a fixture) work cooperatively, or fail fast.

``prerun_module`` builds its Lock, RLock, Condition, Event, Queue, SimpleQueue, Semaphore and
Barrier at import time; fixtures build theirs before ``explore`` is called and the body reaches
them through its closure. A correct program must pass, a buggy one must be caught, and what
cannot be made cooperative must raise ForeignPrimitiveError naming it, never hang.
"""

from __future__ import annotations

import concurrent.futures
import queue
import sys
import threading
from typing import Any, Dict, Iterator, List

import prerun_module as pm
import pytest
from runtime_helpers import CORRECT_RUNS, assert_finds, assert_passes, run_threads

import interleave
from interleave.runtime import watchdog


@pytest.fixture
def quick_watchdog(monkeypatch: pytest.MonkeyPatch) -> float:
    """Declare a real block after half a second instead of the default few seconds."""
    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)
    return 0.5


# ------------------------------------------------------------- module globals (import time)
def test_module_lock_correct() -> None:
    def body() -> None:
        pm.reset()
        run_threads(pm.increment, pm.increment)
        assert pm.state["value"] == 2

    assert_passes(body, executions=CORRECT_RUNS)
    assert type(pm.LOCK).__module__ == "_thread"  # the real one is back


def test_module_state_without_the_lock_found() -> None:
    def body() -> None:
        pm.reset()
        run_threads(lambda: pm.increment(locked=False), lambda: pm.increment(locked=False))
        assert pm.state["value"] == 2

    assert_finds(body)


def test_module_function_default_lock_correct_and_missing_found() -> None:
    def body(locked: bool = True) -> None:
        pm.reset()
        run_threads(lambda: pm.add_with_default_lock(locked=locked), lambda: pm.add_with_default_lock(locked=locked))
        assert pm.state["value"] == 2

    default = pm.add_with_default_lock.__defaults__[0]  # type: ignore[index]
    assert_passes(body)
    assert pm.add_with_default_lock.__defaults__[0] is default  # type: ignore[index]
    assert type(default).__module__ == "_thread"
    assert_finds(lambda: body(locked=False))


def test_module_function_attribute_lock_correct(quick_watchdog: float) -> None:
    """A lock in a list a module function carries as an attribute is reached and made cooperative."""
    def body() -> None:
        pm.reset()
        run_threads(pm.add_with_attribute_lock, pm.add_with_attribute_lock)
        assert pm.state["value"] == 2

    real = pm.add_with_attribute_lock.locks[0]  # type: ignore[attr-defined]
    assert_passes(body)
    assert pm.add_with_attribute_lock.locks[0] is real  # type: ignore[attr-defined]
    assert type(real).__module__ == "_thread"


@pytest.mark.parametrize("name", ["add_with_closure_lock", "add_with_keyword_default_lock"])
def test_module_function_closure_and_keyword_default_locks_correct(name: str, quick_watchdog: float) -> None:
    """A lock only a module function's closure or keyword-only default holds is made cooperative.

    Most of a module's functions hold nothing and are passed over without a visit: these two
    hold their lock where that check must not miss it.
    """
    add = getattr(pm, name)

    def body() -> None:
        pm.reset()
        run_threads(add, add)
        assert pm.state["value"] == 2

    assert_passes(body)
    real = add.__closure__[0].cell_contents if add.__closure__ else add.__kwdefaults__["lock"]
    assert type(real).__module__ == "_thread"  # the real one is back


def test_module_rlock_reentrant_correct() -> None:
    def body() -> None:
        pm.reset()
        run_threads(pm.reentrant_increment, pm.reentrant_increment)
        assert pm.state["value"] == 2

    assert_passes(body)


def test_module_condition_correct_and_if_instead_of_while_found() -> None:
    def good() -> None:
        pm.reset()
        got: List[int] = []
        run_threads(lambda: got.append(pm.consume()), lambda: got.append(pm.consume()),
                    lambda: pm.produce(1), lambda: pm.produce(2))
        assert sorted(got) == [1, 2]

    assert_passes(good)

    def bad() -> None:
        pm.reset()
        run_threads(lambda: pm.consume(use_while=False), lambda: pm.consume(use_while=False),
                    lambda: pm.produce(1), lambda: pm.produce(2))

    assert_finds(bad, exc=IndexError)


def test_module_event_queue_simplequeue_semaphore_barrier_correct() -> None:
    def body() -> None:
        pm.reset()
        got: List[Any] = []

        def first() -> None:
            pm.BARRIER.wait()
            with pm.SEM:
                pm.QUEUE.put("q")
                pm.SIMPLE.put("s")
            pm.EVENT.set()

        def second() -> None:
            pm.BARRIER.wait()
            pm.EVENT.wait()
            with pm.SEM:
                got.append(pm.QUEUE.get())
                got.append(pm.SIMPLE.get())
            pm.QUEUE.task_done()

        run_threads(first, second)
        pm.QUEUE.join()
        assert got == ["q", "s"]
        assert pm.QUEUE.empty() and pm.SIMPLE.empty()

    assert_passes(body)
    assert type(pm.SIMPLE).__module__ == "_queue" and pm.SIMPLE.empty()


def test_module_event_set_too_early_found() -> None:
    def body() -> None:
        pm.reset()

        def publisher() -> None:
            pm.EVENT.set()
            pm.state["value"] = 42

        def reader() -> None:
            pm.EVENT.wait()
            assert pm.state["value"] == 42

        run_threads(reader, publisher)

    assert_finds(body)


def test_class_attribute_lock_correct_and_missing_found() -> None:
    def good() -> None:
        pm.reset()
        run_threads(lambda: pm.Account.deposit(5), lambda: pm.Account.deposit(7))
        assert pm.Account.balance == 12

    assert_passes(good)

    def bad() -> None:
        pm.reset()
        run_threads(lambda: pm.Account.deposit(5, locked=False), lambda: pm.Account.deposit(7, locked=False))
        assert pm.Account.balance == 12

    assert_finds(bad)


def test_module_thread_local_subclass_is_per_virtual_thread() -> None:
    def body() -> None:
        ctx = pm.Ctx()  # a C-level local: its class was defined at import time
        results: Dict[int, List[int]] = {}

        def work(n: int) -> None:
            ctx.stack.append(n)
            pm.LOCAL.name = f"t{n}"
            interleave.switch()
            results[n] = list(ctx.stack)
            assert pm.LOCAL.name == f"t{n}"

        ts = [threading.Thread(target=work, args=(n,)) for n in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert results == {0: [0], 1: [1], 2: [2]}
        assert ctx.stack == []

    assert_passes(body)


# ------------------------------------------------------------ fixture objects, via closure
class Shared:
    """An object built in a fixture that carries its own primitives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(threading.RLock())
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.sem = threading.Semaphore(2)
        self.value = 0


@pytest.fixture
def shared() -> Iterator[Shared]:
    yield Shared()


@pytest.fixture
def lock_table() -> Dict[str, Any]:
    return {"a": threading.Lock(), "b": threading.RLock(), "events": [threading.Event()]}


def test_fixture_objects_through_the_closure_correct(shared: Shared, lock_table: Dict[str, Any]) -> None:
    plain_lock = threading.Lock()

    def worker(n: int) -> None:
        with lock_table["a"], lock_table["b"]:
            with plain_lock:
                v = shared.value
                shared.value = v + n
        with shared.cond:
            shared.cond.notify_all()
        shared.queue.put(n)
        lock_table["events"][0].set()

    def body() -> None:
        shared.value = 0
        lock_table["events"][0].clear()
        ts = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
        for t in ts:
            t.start()
        got = sorted([shared.queue.get(), shared.queue.get()])
        lock_table["events"][0].wait()
        with shared.cond:
            shared.cond.wait_for(lambda: shared.value == 3)
        for t in ts:
            t.join()
        assert got == [1, 2] and shared.value == 3

    assert_passes(body)
    assert type(lock_table["a"]).__module__ == "_thread"
    assert type(shared.lock).__module__ == "_thread"


def test_fixture_object_race_found(shared: Shared) -> None:
    def worker() -> None:
        with shared.sem:  # two may be inside at once: the semaphore is not mutual exclusion
            v = shared.value
            shared.value = v + 1

    def body() -> None:
        shared.value = 0
        run_threads(worker, worker)
        assert shared.value == 2

    assert_finds(body)


def test_lock_held_when_the_run_starts() -> None:
    gate = threading.Lock()
    gate.acquire()  # released by the body, inside the run
    try:
        def body() -> None:
            released: List[bool] = []

            def waiter() -> None:
                with gate:
                    released.append(True)

            t = threading.Thread(target=waiter)
            t.start()
            gate.release()
            t.join()
            gate.acquire()  # leave it as the next execution expects it
            assert released == [True]

        assert_passes(body, executions=300)
        assert gate.locked()
    finally:
        gate.release()


def test_a_deadlock_on_a_lock_held_since_before_the_run_says_nobody_in_the_run_holds_it() -> None:
    gate = threading.Lock()
    gate.acquire()  # e.g. held by a real background thread when the test starts
    try:
        def body() -> None:
            def waiter() -> None:
                with gate:
                    pass

            t = threading.Thread(target=waiter)
            t.start()
            t.join()

        failure = assert_finds(body, kind="deadlock", exc=None)
        assert "held by no thread of the run (held since before it started" in failure.report, failure.report
    finally:
        gate.release()


def test_rlock_held_by_the_caller_is_held_by_the_body() -> None:
    rlock = threading.RLock()
    rlock.acquire()
    try:
        def body() -> None:
            got: List[bool] = []

            def other() -> None:
                got.append(rlock.acquire(blocking=False))

            t = threading.Thread(target=other)
            t.start()
            t.join()
            assert got == [False]  # the body (the calling thread) owns it
            rlock.acquire()  # re-entrant for the owner
            rlock.release()

        assert_passes(body, executions=200)
    finally:
        rlock.release()


def test_prerun_thread_object_started_inside_the_run() -> None:
    out: List[int] = []
    t = threading.Thread(target=lambda: out.append(1))

    def body() -> None:
        t.start()
        t.join()

    result = interleave.explore(body, executions=1, seed=1)
    assert result.failure is None, result.failure.report
    assert out == [1]


# --------------------------------------------------------- what cannot be made cooperative
@pytest.mark.timeout(60)
def test_unreachable_real_lock_fails_fast_with_a_clear_error(quick_watchdog: float) -> None:
    hidden = (threading.Lock(),)  # a tuple: the reference cannot be swapped

    def worker() -> None:
        with hidden[0]:
            interleave.switch()

    def body() -> None:
        run_threads(worker, worker)

    with pytest.raises(interleave.ForeignPrimitiveError) as info:  # fast: the test's timeout bounds it
        interleave.explore(body, executions=200, seed=1)
    msg = str(info.value)
    assert "blocked its OS thread for real" in msg
    assert "hidden[0]" in msg  # names the object
    assert "with hidden[0]:" in msg  # and the line
    assert "Fix:" in msg and "inside the test body" in msg
    # everything is back and real threads still work
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join(10)
    assert not t.is_alive()


@pytest.mark.timeout(60)
def test_real_lock_inside_a_library_object_fails_fast(quick_watchdog: float) -> None:
    """A lock interleave never sees: created by code outside the body's reach."""

    class Library:
        __slots__ = ("_state",)

        def __init__(self) -> None:
            self._state = frozenset([threading.Lock()])

        def critical(self) -> None:
            (lock,) = self._state
            with lock:
                interleave.switch()

    lib = Library()

    def body() -> None:
        run_threads(lib.critical, lib.critical)

    with pytest.raises(interleave.ForeignPrimitiveError, match="lock"):
        interleave.explore(body, executions=200, seed=2)


def test_uncontended_unreachable_lock_is_no_false_alarm(quick_watchdog: float) -> None:
    hidden = (threading.Lock(),)

    def body() -> None:
        with hidden[0]:
            pass
        run_threads(lambda: None)

    assert_passes(body, executions=200)


@pytest.mark.timeout(60)
def test_real_block_while_unwinding_is_interrupted_too(quick_watchdog: float) -> None:
    hidden = (threading.Lock(),)

    def worker() -> None:
        try:
            with hidden[0]:
                interleave.switch()
        except interleave.ForeignPrimitiveError:
            with hidden[0]:  # blocks for real again on the way out
                pass

    def body() -> None:
        run_threads(worker, worker)

    with pytest.raises(interleave.ForeignPrimitiveError):
        interleave.explore(body, executions=200, seed=1)


def test_a_module_imported_between_explorations_is_searched(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                            quick_watchdog: float) -> None:
    """The modules searched are remembered per ``sys.modules``: one imported later is searched too."""
    import importlib

    assert interleave.explore(lambda: None, executions=1).failure is None  # the list is now kept
    (tmp_path / "late_lock_module.py").write_text(
        "import threading\nLOCK = threading.Lock()\nstate = {'value': 0}\n\n\n"
        "def add():\n    with LOCK:\n        v = state['value']\n        state['value'] = v + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "late_lock_module", raising=False)
    late = importlib.import_module("late_lock_module")

    def body() -> None:
        late.state["value"] = 0
        run_threads(late.add, late.add)
        assert late.state["value"] == 2

    assert_passes(body)
    assert type(late.LOCK).__module__ == "_thread"


# Made at import, left changed by every execution of the body below.
LEAKED_SEM = threading.Semaphore(1)
LEAKED_EVENT = threading.Event()
LEAKED_QUEUE: queue.Queue[int] = queue.Queue()
LEAKED_QUEUE.put(1)
LEAKED_BARRIER = threading.Barrier(2)
LEAKED_SIMPLE: queue.SimpleQueue[int] = queue.SimpleQueue()
LEAKED_SIMPLE.put(7)


@pytest.mark.parametrize("strategy", ["random", "pct", "portfolio"])
def test_prerun_semaphore_event_queue_barrier_start_every_execution_alike_and_are_put_back(strategy: str) -> None:
    """A body that takes a permit for good, sets an event, queues an item and breaks a barrier:
    the next execution starts from the objects as they were (before, it deadlocked on the
    semaphore), and after the run they are as before it."""
    seen: List[Any] = []

    def body() -> None:
        seen.append((LEAKED_EVENT.is_set(), LEAKED_QUEUE.qsize(), LEAKED_QUEUE.unfinished_tasks,
                     LEAKED_QUEUE.maxsize, LEAKED_BARRIER.broken, LEAKED_SIMPLE.qsize()))
        assert LEAKED_SEM.acquire(timeout=5), "no permit left"
        LEAKED_EVENT.set()
        LEAKED_QUEUE.put(2)
        LEAKED_QUEUE.maxsize = 1
        LEAKED_BARRIER.abort()
        LEAKED_SIMPLE.put(8)
        run_threads(lambda: None)

    r = interleave.explore(body, executions=5, seed=0, strategy=strategy)
    assert r.failure is None, r.failure.report
    assert len(seen) > 1 and set(seen) == {(False, 1, 1, 0, False, 1)}, seen
    assert LEAKED_SEM.acquire(blocking=False)
    LEAKED_SEM.release()
    assert not LEAKED_EVENT.is_set() and list(LEAKED_QUEUE.queue) == [1] and LEAKED_QUEUE.unfinished_tasks == 1
    assert LEAKED_QUEUE.maxsize == 0
    assert not LEAKED_BARRIER.broken
    assert LEAKED_SIMPLE.qsize() == 1 and LEAKED_SIMPLE.get_nowait() == 7
    LEAKED_SIMPLE.put(7)


@pytest.mark.skipif(not hasattr(queue.Queue, "shutdown"), reason="Queue.shutdown is new in 3.13")
def test_a_prerun_queue_shut_down_in_the_body_is_open_again_for_each_execution_and_after() -> None:
    q: queue.Queue[int] = queue.Queue()
    opened: List[bool] = []

    def body() -> None:
        opened.append(not q.is_shutdown)  # type: ignore[attr-defined]
        q.shutdown()  # type: ignore[attr-defined]
        run_threads(lambda: None)

    r = interleave.explore(body, executions=4, seed=0)
    assert r.failure is None, r.failure.report
    assert len(opened) > 1 and all(opened), opened
    q.put(1)  # raises ShutDown if the run left it shut
    assert q.get_nowait() == 1


# Made at import and used once, as applications do: its worker is a real thread, idle on a real queue.
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2)
POOL.submit(lambda: None).result()


@pytest.mark.parametrize("backend", ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else []))
@pytest.mark.parametrize("strategy", ["random", "dpor", "portfolio"])
def test_a_prerun_thread_pool_runs_each_execution_on_virtual_workers(strategy: str, backend: str) -> None:
    """Before, its real worker took the body's work outside the run (a false deadlock, no race
    found), and the simulated interpreter exit at the end of an execution ended that worker."""

    def body(locked: bool) -> None:
        box = {"n": 0}
        lock = threading.Lock()

        def inc() -> None:
            if locked:
                with lock:
                    box["n"] += 1
            else:
                box["n"] += 1

        for f in [POOL.submit(inc) for _ in range(2)]:
            f.result()
        assert box["n"] == 2, box

    r = interleave.explore(lambda: body(True), executions=30, seed=0, strategy=strategy, backend=backend)
    assert r.failure is None, r.failure.report
    assert_finds(lambda: body(False), strategy=strategy, backend=backend)
    assert POOL.submit(pow, 2, 5).result(timeout=10) == 32, "the real pool still works after the run"
    assert any(t.is_alive() for t in POOL._threads)  # type: ignore[attr-defined]


def test_a_typing_generic_class_lock_correct_and_annotations_not_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Annotations (``Optional[int]``, ``Any``, ``from __future__ import annotations``) hold only types:
    the search passes them over, while a user class built with ``Generic`` is still searched."""
    import interleave.session as session_module

    adopters: List[Any] = []
    adopt = session_module.adopt_prerun_primitives

    def keep(*args: Any, **kwargs: Any) -> Any:
        adopters.append(adopt(*args, **kwargs))
        return adopters[-1]

    monkeypatch.setattr(session_module, "adopt_prerun_primitives", keep)

    def body() -> None:
        pm.TypedBox.items = []
        run_threads(lambda: pm.TypedBox.put(1), lambda: pm.TypedBox.put(2))
        assert sorted(pm.TypedBox.items) == [1, 2]

    assert_passes(body)
    assert type(pm.TypedBox.lock).__module__ == "_thread"  # the real one is back
    seen = adopters[-1].seen
    assert id(pm.TypedBox.lock) in adopters[-1].twins  # the class was searched, its lock adopted
    for note in [pm.annotations, *pm.ANNOTATIONS.values()]:
        assert id(note) not in seen, note


@pytest.mark.parametrize("strategy", ["portfolio", "dpor"])
def test_module_globals_whose_lookups_run_code_are_searched_without_running_it(strategy: str) -> None:
    """A lazy module (six.moves), a slotted object with ``__getattr__`` and a context proxy at
    module level: the search reads their state without calling their code, and finds the lock
    beside them."""
    import lazy_attributes_module as lazy

    def body() -> None:
        lazy.state["value"] = 0
        run_threads(lazy.increment, lazy.increment)
        assert lazy.state["value"] == 2

    result = interleave.explore(body, executions=50, seed=0, strategy=strategy)
    assert result.failure is None, result.failure.report
    assert lazy.CALLS == []
    assert type(lazy.LOCK).__module__ == "_thread"
