"""DPOR never claims a proof it does not have (issue 9, items 4, 5 and 9).

Each program below has a bug that some interleaving reaches; ``strategy="dpor"`` reported
``exhausted`` without it (or never reached it) before the access model was made conservative
where it cannot see, and before its caches stopped depending on an earlier exploration.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import weakref
from collections import defaultdict
from typing import Any, Callable, Dict, List

import pytest

import interleave

sys.path.insert(0, os.path.dirname(__file__))
import access_gaps  # noqa: E402
import dpor_soundness_helper as helper  # noqa: E402

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])
BUDGET = 5000  # far more than any of these needs; a miss runs out of it or claims exhausted


class Obj:
    """A shared object with one field."""

    def __init__(self) -> None:
        self.value = 0


def run_pair(a: Callable[[], None], b: Callable[[], None]) -> None:
    """Run two functions as threads and wait for both."""
    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def assert_dpor_finds(body: Callable[[], None], backend: str, **kw: Any) -> None:
    """DPOR must report the failure, neither "exhausted" nor a budget spent without it."""
    result = interleave.explore(body, strategy="dpor", executions=BUDGET, backend=backend, shrink=False, **kw)
    assert result.failure is not None, (
        f"dpor missed the bug: {result.executions} executions, exhausted={result.exhausted}")
    assert result.failure.kind == "exception", result.failure.kind


# ------------------------------------------------------------------ the false proofs of item 9

def attr_and_instance_dict() -> None:
    o = Obj()

    def a() -> None:
        v = o.value
        o.value = v + 1

    def b() -> None:
        v = o.__dict__["value"]
        o.__dict__["value"] = v + 1

    run_pair(a, b)
    assert o.value == 2, o.value


def attr_and_vars() -> None:
    o = Obj()

    def a() -> None:
        o.value += 1

    def b() -> None:
        d = vars(o)
        d["value"] = d["value"] + 1

    run_pair(a, b)
    assert o.value == 2, o.value


G = 0


def global_and_globals_dict() -> None:
    global G
    G = 0

    def a() -> None:
        global G
        G = G + 1

    def b() -> None:
        g = globals()
        g["G"] = g["G"] + 1

    run_pair(a, b)
    assert G == 2, G


# Compiled with this file's name, so that the exec'd code is code under test. One code object
# per program: these tests are about DPOR's model of exec, not about a code object's instrumentation
# surviving from one back-end to the other (see the note in test_exec_of_generated_code_under_test).
_EXEC_CODE = compile("n = n + 1\n", __file__, "exec")
_EXEC_CODE_2 = compile("n = n + 1\n", __file__, "exec")


def exec_shared_namespace() -> None:
    ns: Dict[str, Any] = {"n": 0}

    def a() -> None:
        exec(_EXEC_CODE, {}, ns)

    run_pair(a, a)
    assert ns["n"] == 2, ns["n"]


def exec_shared_globals() -> None:
    ns: Dict[str, Any] = {"n": 0}

    def a() -> None:
        exec(_EXEC_CODE_2, ns)

    run_pair(a, a)
    assert ns["n"] == 2, ns["n"]


class Bump(Exception):
    """Thrown into a generator."""


def generator_throw() -> None:
    o = Obj()

    def gen() -> Any:
        total = 0
        while True:
            try:
                x = yield total
            except Bump:
                o.value = o.value + 1
            else:
                total += x

    def a() -> None:
        g = gen()
        next(g)
        g.send(1)
        g.throw(Bump)
        g.close()

    run_pair(a, a)
    assert o.value == 2, o.value


def generator_shared() -> None:
    # One generator resumed by two threads: resuming it while the other runs in it raises.
    o = Obj()

    def gen() -> Any:
        while True:
            o.value += 1
            yield

    g = gen()

    def a() -> None:
        next(g)

    run_pair(a, a)


class Dispatcher:
    """A signal in the style of popular dispatch libraries: receivers by id, and by sender."""

    ANY = object()

    def __init__(self) -> None:
        self.receivers: Dict[int, Callable[..., Any]] = {}
        self.by_sender: Dict[Any, set] = defaultdict(set)

    def connect(self, fn: Callable[..., Any], sender: Any = ANY) -> None:
        """Register ``fn`` for ``sender``."""
        rid = id(fn)
        self.receivers.setdefault(rid, fn)
        self.by_sender[sender].add(rid)

    def disconnect(self, fn: Callable[..., Any]) -> None:
        """Forget ``fn``."""
        rid = id(fn)
        self.receivers.pop(rid, None)
        for ids in self.by_sender.values():
            ids.discard(rid)

    def send(self, sender: Any) -> List[Any]:
        """Call every receiver of ``sender``: the ids first, then each receiver (check, then act)."""
        out = []
        for rid in list(self.by_sender[self.ANY] | self.by_sender[sender]):
            out.append(self.receivers[rid](sender))
        return out


def dispatcher_send_while_disconnecting() -> None:
    sig = Dispatcher()

    def receiver(sender: Any) -> int:
        return 1

    sig.connect(receiver)

    def a() -> None:
        sig.send("x")

    def b() -> None:
        sig.disconnect(receiver)

    run_pair(a, b)


class Conf:
    """Settings as class attributes, read through instances."""

    limit = 1


def class_attribute_through_an_instance() -> None:
    # The instance holds no `limit`: reading it reads the class attribute another thread sets.
    class Local(Conf):
        pass

    o = Local()
    seen: List[int] = []

    def a() -> None:
        seen.append(o.limit)

    def b() -> None:
        Conf.limit = 2

    try:
        run_pair(a, b)
    finally:
        Conf.limit = 1
    assert seen == [1], seen


class Base:
    """A method that a subclass reaches through super()."""

    def hello(self) -> int:
        """The base greeting."""
        return 1


def super_attribute_while_patched() -> None:
    class Sub(Base):
        def hello(self) -> int:
            return super().hello() + 1

    got: List[int] = []
    original = Base.hello

    def a() -> None:
        got.append(Sub().hello())

    def b() -> None:
        Base.hello = lambda self: 10  # type: ignore[method-assign]

    try:
        run_pair(a, b)
    finally:
        Base.hello = original  # type: ignore[method-assign]
    assert got == [2], got


def two_holders_of_a_semaphore() -> None:
    """A Semaphore(2) lets both threads in at once: its critical sections are not exclusive."""
    sem = threading.Semaphore(2)
    shared = {"n": 0}

    def w() -> None:
        with sem:
            shared["n"] += 1
            shared["n"] -= 1

    run_pair(w, w)
    assert shared["n"] == 0, shared


def two_holders_of_a_bounded_semaphore_append() -> None:
    sem = threading.BoundedSemaphore(3)
    out: List[int] = []

    def w() -> None:
        with sem:
            n = len(out)
            out.append(n)

    run_pair(w, w)
    assert sorted(out) == [0, 1], out


def _try_then_hold(lock: Any, attempt: Callable[[Any], bool]) -> None:
    """One thread tries the lock without waiting for ever, the other holds it: the try fails when it
    comes while the other holds it (a try or timed acquisition was recorded as no acquisition at all,
    and no blocking acquisition raced with it)."""
    got: List[bool] = []

    def tries() -> None:
        if attempt(lock):
            lock.release()
            got.append(True)
        else:
            got.append(False)

    def holds() -> None:
        with lock:
            pass

    run_pair(tries, holds)
    assert got == [True], got


def try_lock_against_with() -> None:
    _try_then_hold(threading.Lock(), lambda lk: lk.acquire(blocking=False))


def zero_timeout_lock_against_with() -> None:
    _try_then_hold(threading.Lock(), lambda lk: lk.acquire(timeout=0))


def timed_lock_against_with() -> None:
    _try_then_hold(threading.Lock(), lambda lk: lk.acquire(timeout=1.0))


def try_rlock_against_with() -> None:
    _try_then_hold(threading.RLock(), lambda lk: lk.acquire(blocking=False))


def timed_condition_wait_woken_by_notify() -> None:
    """A bug on the path where notify() wakes a timed wait, not where it times out (only the timeout
    was explored: its taking the lock back was no acquisition that a notifier's could race with)."""
    cond = threading.Condition()
    items: List[int] = []

    def consumer() -> None:
        with cond:
            if cond.wait(1.0):
                items.pop()
                items.pop()  # the bug: one item was put

    def producer() -> None:
        with cond:
            items.append(1)
            cond.notify()

    run_pair(consumer, producer)


def timeout_before_a_read_of_a_sleeper() -> None:
    """A timed wait that runs out before the other thread even reads, where that thread sleeps after
    reading (its later deadline ordered the two through virtual time, hiding the race)."""
    never = threading.Event()
    state = {"y": 0}
    seen: List[int] = []

    def reader() -> None:
        seen.append(state["y"])
        time.sleep(0.1)

    def writer() -> None:
        never.wait(1.0)
        state["y"] = 2

    run_pair(reader, writer)
    assert seen == [0], seen


def put_after_an_early_sleep_serves_a_timed_get() -> None:
    """The putter's sleep runs out early and its put reaches the getter before the get times out."""
    q: Any = __import__("queue").Queue()
    started = threading.Event()
    seen: Dict[str, Any] = {}

    def getter() -> None:
        started.set()
        try:
            seen["got"] = q.get(timeout=0.05)
        except Exception:  # noqa: BLE001 - queue.Empty
            seen["got"] = "empty"

    def putter() -> None:
        seen["started"] = started.is_set()
        time.sleep(0.1)
        q.put_nowait(1)

    run_pair(putter, getter)
    assert not (seen["started"] and seen["got"] == 1), seen


PROGRAMS = [timeout_before_a_read_of_a_sleeper, put_after_an_early_sleep_serves_a_timed_get, try_lock_against_with,
            zero_timeout_lock_against_with, timed_lock_against_with,
            try_rlock_against_with, timed_condition_wait_woken_by_notify, two_holders_of_a_semaphore,
            two_holders_of_a_bounded_semaphore_append,
            class_attribute_through_an_instance, super_attribute_while_patched,
            attr_and_instance_dict, attr_and_vars, global_and_globals_dict, exec_shared_namespace,
            exec_shared_globals, generator_throw, generator_shared, dispatcher_send_while_disconnecting]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("body", PROGRAMS, ids=lambda f: f.__name__)
def test_dpor_finds_the_bug(body: Callable[[], None], backend: str) -> None:
    assert_dpor_finds(body, backend)


# Code compiled afresh by each exec("...") call is equal (by content) to the code of the call
# before: the back-ends once keyed their state by equality, so from the second execution on the
# fresh code ran with no switch point and DPOR "proved" the body correct.
@pytest.mark.parametrize("backend", BACKENDS)
def test_exec_of_generated_code_under_test(backend: str) -> None:
    ns: Dict[str, Any] = {"n": 0}

    def body() -> None:
        ns["n"] = 0

        def a() -> None:
            exec("m = n\nn = m + 1\n", ns)

        run_pair(a, a)
        assert ns["n"] == 2, ns["n"]

    assert_dpor_finds(body, backend, instrument=["<string>"])


# ------------------------------------------------------------------ item 4: caches across explorations

def property_lost_update() -> None:
    b = helper.Box()

    def a() -> None:
        v = b.value
        b.value = v + 1

    def c() -> None:
        b._v = b._v + 1

    run_pair(a, c)
    assert b._v == 2, b._v


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("first", ["instrument", "exclude"])
def test_same_answer_after_an_exploration_with_another_filter(first: str, backend: str) -> None:
    # Whether the property's getter is code under test decides how DPOR models `b.value`: an
    # answer cached by the first exploration must not leak into the second.
    filters = {"instrument": {"instrument": ["dpor_soundness_helper"]},
               "exclude": {"exclude": ["dpor_soundness_helper"]}}
    second = "exclude" if first == "instrument" else "instrument"
    assert_dpor_finds(property_lost_update, backend, **filters[first])
    assert_dpor_finds(property_lost_update, backend, **filters[second])


# ------------------------------------------------------------------ item 5: no class kept alive

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["races", "dpor"])
def test_a_class_defined_in_the_body_is_collectable_afterwards(mode: str, backend: str) -> None:
    refs: List[Any] = []

    def body() -> None:
        class Local:
            def __init__(self) -> None:
                self.v = 0

        refs.append(weakref.ref(Local))
        k = Local()

        def w() -> None:
            k.v += 1

        t = threading.Thread(target=w)
        t.start()
        with threading.Lock():
            k.v += 1
        t.join()

    kw: Dict[str, Any] = {"races": "report"} if mode == "races" else {"strategy": "dpor"}
    interleave.explore(body, executions=20, backend=backend, **kw)
    gc.collect()
    assert refs
    alive = [r for r in refs if r() is not None]
    assert not alive, f"{len(alive)} of {len(refs)} classes still alive"


# ------------------------------------------------------------------ forced points (audit f07)
# A point the runtime let a thread pass alone (no other thread could run) was in no DPOR event
# when the thread next asked at a point with no grant left, or parked. The replay that grants a
# thread's consecutive events at once then started the next event a point early, and DPOR
# reported a divergence (a failure) for correct code, the README's own safety-net timeouts.

def _pool_with_blocked_task(wait: Callable[..., Any]) -> Callable[[], None]:
    def body() -> None:
        import concurrent.futures as cf

        ev = threading.Event()
        with cf.ThreadPoolExecutor(2) as ex:
            blocked = ex.submit(ev.wait)
            done = ex.submit(int, "1")
            try:
                wait(cf, blocked, done)
            except cf.TimeoutError:
                pass  # a timeout may run out at any moment (timeouts="anytime")
            ev.set()
    return body


FORCED = {
    "sleep": _pool_with_blocked_task(lambda cf, blocked, done: time.sleep(0.5)),
    "result(timeout)": _pool_with_blocked_task(lambda cf, blocked, done: done.result(timeout=0.5)),
    "wait(timeout)": _pool_with_blocked_task(lambda cf, blocked, done: cf.wait([blocked, done], timeout=0.5)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(FORCED))
def test_a_point_passed_alone_keeps_replays_in_step(name: str, backend: str) -> None:
    r = interleave.explore(FORCED[name], strategy="dpor", executions=3000, seed=3, backend=backend)
    assert r.failure is None, r.failure.report
    assert r.exhausted, r.verdict


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(access_gaps.PROGRAMS))
def test_a_race_through_what_a_builtin_reaches_is_found_not_proved_away(name: str, backend: str) -> None:
    body = access_gaps.PROGRAMS[name]
    real = interleave.explore(body, strategy="exhaustive", preemptions=1, executions=2000, backend=backend,
                              shrink=False)
    assert real.failure is not None, f"the program must fail somewhere: {real.verdict}"
    r = interleave.explore(body, strategy="dpor", executions=BUDGET, backend=backend, shrink=False)
    assert r.failure is not None, r.verdict
    assert r.failure.kind == real.failure.kind
