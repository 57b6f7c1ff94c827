"""Data races: explore(races=...) with vector clocks over the synchronisation operations."""

from __future__ import annotations

import queue
import threading
from typing import Callable, List

import pytest
from runtime_helpers import run_threads

import interleave
from interleave import OptionError
from interleave.races import Race


class Counter:
    """The unlocked counter of the README."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1  # the racing line


class LockedCounter:
    """The same, with a lock."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def increment(self) -> None:
        with self.lock:
            self.value += 1


def two_increments(cls: type) -> Callable[[], None]:
    def body() -> None:
        c = cls()
        ts = [threading.Thread(target=c.increment) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return body


def event_publication() -> None:
    box: dict = {}
    ready = threading.Event()

    def producer() -> None:
        box["value"] = 42
        ready.set()

    def consumer() -> None:
        ready.wait()
        assert box["value"] == 42

    ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def queue_publication() -> None:
    q: queue.Queue = queue.Queue()
    box: dict = {}

    def producer() -> None:
        box["value"] = 1
        q.put("ready")

    def consumer() -> None:
        q.get()
        box["value"] += 1

    ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box["value"] == 2


def join_publication() -> None:
    result: List[int] = [0]
    holder = {"v": 0}

    def work() -> None:
        holder["v"] = 7

    t = threading.Thread(target=work)
    t.start()
    t.join()
    result[0] = holder["v"]  # after join: ordered by the thread's end


def condition_publication() -> None:
    cond = threading.Condition()
    state = {"ready": False, "data": 0}

    def producer() -> None:
        with cond:
            state["data"] = 5
            state["ready"] = True
            cond.notify()

    def consumer() -> None:
        with cond:
            while not state["ready"]:
                cond.wait()
        assert state["data"] == 5

    ts = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def global_flag_race() -> None:
    global FLAG
    FLAG = 0

    def setter() -> None:
        global FLAG
        FLAG = 1

    t = threading.Thread(target=setter)
    t.start()
    seen = FLAG  # races with the setter: no synchronisation before the join
    t.join()
    assert seen in (0, 1)


FLAG = 0


def _lines(race: Race) -> List[int]:
    return sorted([race.first.lineno, race.second.lineno])


INCREMENT_LINE = Counter.increment.__code__.co_firstlineno + 1


@pytest.mark.parametrize("strategy", ["dpor", "random", "pct"])
def test_unlocked_counter_reports_the_race_on_value_with_both_lines(strategy: str) -> None:
    r = interleave.explore(two_increments(Counter), strategy=strategy, races="report", executions=50, seed=3)
    assert r.failure is None  # the invariant is not checked here: the race is reported anyway
    on_value = [x for x in r.races if x.location == "Counter.value"]
    assert on_value, [x.describe() for x in r.races]
    race = on_value[0]
    assert race.first.thread != race.second.thread
    assert {race.first.thread, race.second.thread} == {"Thread-1 (increment)", "Thread-2 (increment)"}
    assert _lines(race) == [INCREMENT_LINE, INCREMENT_LINE]
    assert "write" in (race.first.kind, race.second.kind)
    text = race.describe()
    assert "Counter.value" in text and f":{INCREMENT_LINE}" in text and "self.value += 1" in text


@pytest.mark.parametrize("strategy", ["dpor", "random"])
def test_locked_counter_reports_no_race(strategy: str) -> None:
    r = interleave.explore(two_increments(LockedCounter), strategy=strategy, races="report", executions=50, seed=3)
    assert r.failure is None
    assert r.races == []


@pytest.mark.parametrize("body", [event_publication, queue_publication, join_publication, condition_publication])
def test_publication_through_synchronisation_is_not_a_race(body: Callable[[], None]) -> None:
    r = interleave.explore(body, strategy="dpor", races="report", executions=500)
    assert r.failure is None, r.failure.report if r.failure else ""
    assert r.exhausted
    assert r.races == [], [x.describe() for x in r.races]


def test_race_on_a_global_is_named() -> None:
    r = interleave.explore(global_flag_race, strategy="dpor", races="report", executions=100)
    assert [x.location for x in r.races] == ["global FLAG"]


def test_races_fail_makes_a_failure_with_the_race_and_a_token() -> None:
    r = interleave.explore(two_increments(Counter), strategy="dpor", races="fail", executions=50)
    assert r.failure is not None and r.failure.kind == "race"
    assert r.stop_reason == "failure"
    report = r.failure.report
    assert "data race on Counter.value" in report
    assert "Interleaving" in report and r.failure.token in report
    with pytest.raises(AssertionError):
        r.raise_for_failure()


def test_races_fail_passes_a_correct_program() -> None:
    r = interleave.explore(two_increments(LockedCounter), strategy="dpor", races="fail", executions=50)
    assert r.failure is None and r.exhausted and r.races == []


def test_races_ignore_is_the_default_and_reports_nothing() -> None:
    r = interleave.explore(two_increments(Counter), strategy="dpor", executions=50)
    assert r.races == []


def test_invalid_races_option() -> None:
    with pytest.raises(OptionError):
        interleave.explore(two_increments(Counter), races="maybe")


def test_race_dedup_across_executions() -> None:
    r = interleave.explore(two_increments(Counter), strategy="random", races="report", executions=200, seed=1)
    keys = [(x.location, tuple(_lines(x)), x.first.kind, x.second.kind) for x in r.races]
    assert len(keys) == len(set(keys))


def test_a_loop_over_a_dict_races_with_an_insert() -> None:
    # A read of the whole dict meets a write of one key (before session 13 the report matched
    # locations exactly and said nothing, while the run failed with "changed size").
    def body() -> None:
        d = {"p": 1}

        def a() -> None:
            for _ in d:
                pass

        def b() -> None:
            d["q"] = 2

        run_threads(a, b)

    r = interleave.explore(body, races="report", strategy="random", executions=50, seed=0, shrink=False)
    assert any("dict['q']" in race.location and {race.first.kind, race.second.kind} == {"read", "write"}
               for race in r.races), r.races


class _Box:
    x = 0


def _pool_publication(waiting: str) -> Callable[[], None]:
    """A pool task writes, the main thread waits for it through ``waiting`` and writes after."""
    import concurrent.futures as cf

    def body() -> None:
        box = _Box()

        def task(_: object = None) -> None:
            box.x = 1

        with cf.ThreadPoolExecutor(max_workers=1) as ex:
            if waiting == "result":
                ex.submit(task).result()
            elif waiting == "wait":
                cf.wait([ex.submit(task)])
            elif waiting == "as_completed":
                for _ in cf.as_completed([ex.submit(task)]):
                    pass
            elif waiting == "list(map)":
                list(ex.map(task, [1]))
            else:  # for x in map
                for _ in ex.map(task, [1]):
                    pass
            box.x = 3

    return body


@pytest.mark.parametrize("strategy", ["random", "pct", "dpor"])
@pytest.mark.parametrize("waiting", ["result", "wait", "as_completed", "list(map)", "for-map"])
def test_waiting_for_a_pool_task_orders_its_writes(waiting: str, strategy: str) -> None:
    # The worker finishes the future in the pool's own code, where no switch point is: that
    # stretch is a fence, as a call into such code is (it had no edge: a false race).
    r = interleave.explore(_pool_publication(waiting), strategy=strategy, races="report", executions=40, seed=2)
    assert r.failure is None, r.failure.report if r.failure else ""
    assert r.races == [], [x.describe() for x in r.races]


def test_two_pool_tasks_writing_one_attribute_race() -> None:
    import concurrent.futures as cf

    def body() -> None:
        box = _Box()

        def task() -> None:
            box.x = 1

        with cf.ThreadPoolExecutor(max_workers=2) as ex:
            a, b = ex.submit(task), ex.submit(task)
            a.result()
            b.result()

    r = interleave.explore(body, strategy="random", races="report", executions=60, seed=2)
    races = [x for x in r.races if x.location == "_Box.x"]
    assert races, "the two workers' writes are not ordered"
    assert races[0].first.thread != races[0].second.thread
    assert all(x.first.thread != "MainThread" and x.second.thread != "MainThread" for x in races)


def _own_cells() -> None:
    def worker() -> None:
        n = 0

        def inc() -> None:
            nonlocal n
            n += 1

        inc()

    run_threads(worker, worker)


def _shared_cell() -> None:
    n = 0

    def inc() -> None:
        nonlocal n
        n += 1

    t = threading.Thread(target=inc)
    t.start()
    n += 1  # the body's own cell, which the thread's closure shares: no join before it
    t.join()


@pytest.mark.parametrize("strategy", ["random", "dpor"])
def test_closure_cells_are_told_apart_by_identity_not_name(strategy: str) -> None:
    # Two threads that each made their own ``n`` share nothing (cells were matched by name).
    r = interleave.explore(_own_cells, strategy=strategy, races="report", executions=30, seed=1)
    assert r.races == [], [x.describe() for x in r.races]
    # The body's cell and the thread's free variable are one cell: that race is still found.
    r = interleave.explore(_shared_cell, strategy=strategy, races="report", executions=30, seed=1)
    cell = [x for x in r.races if x.location == "cell n"]
    assert cell, [x.describe() for x in r.races]
    assert {cell[0].first.thread, cell[0].second.thread} == {"MainThread", "Thread-1 (inc)"}


def test_the_frame_layout_probe_holds_on_this_version() -> None:
    # Without it the race check falls back to telling cells apart by name only.
    import sys

    from interleave.instrument.frame_cells import cell_of

    def outer() -> object:
        n = 0

        def inner() -> object:
            return n, sys._getframe()

        return inner, sys._getframe()

    inner, made = outer()  # type: ignore[misc]
    _, used = inner()
    cell = inner.__closure__[0]
    assert cell_of(made, "n") is cell
    assert cell_of(used, "n") is cell
    assert cell_of(used, "missing") is None


# Orderings the standard library makes with its own lock operations (no switch points there):
# each program is correct, and each was reported as a race.


class _State:
    ready = False
    v = 0


def _wait_for_predicate() -> None:
    st, cond = _State(), threading.Condition()

    def waiter() -> None:
        with cond:
            cond.wait_for(lambda: st.ready)  # the predicate reads under the lock

    def setter() -> None:
        with cond:
            st.ready = True
            cond.notify_all()

    run_threads(waiter, setter)


class _CountingQueue(queue.Queue):  # type: ignore[type-arg]
    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self.count = 0

    def _put(self, item: object) -> None:  # called under the queue's mutex
        super()._put(item)
        self.count += 1


def _queue_hooks() -> None:
    q = _CountingQueue()
    run_threads(lambda: q.put(1), lambda: q.put(2))


def _polls_is_alive() -> None:
    st = _State()

    def w() -> None:
        st.v = 1

    t = threading.Thread(target=w)
    t.start()
    while True:
        t.join(timeout=0.5)
        if not t.is_alive():
            break
    st.v = 2


def _polls_active_count() -> None:
    import time

    st = _State()

    def w() -> None:
        st.v = 1

    before = threading.active_count()  # a test runner may have threads of its own
    threading.Thread(target=w).start()
    while threading.active_count() > before:
        time.sleep(0.01)
    st.v = 2


def _event_clear_seen() -> None:
    import time

    st, busy = _State(), threading.Event()
    busy.set()

    def w() -> None:
        st.v = 1
        busy.clear()

    t = threading.Thread(target=w)
    t.start()
    while busy.is_set():
        time.sleep(0.01)
    st.v = 2
    t.join()


def _polls_queue_empty() -> None:
    import time

    st, q = _State(), queue.Queue()  # type: ignore[var-annotated]

    def w() -> None:
        st.v = 1
        q.put(1)

    t = threading.Thread(target=w)
    t.start()
    while q.empty():
        time.sleep(0.01)
    st.v = 2
    t.join()


def _polls_lock_locked() -> None:
    import time

    st, lk = _State(), threading.Lock()
    lk.acquire()

    def w() -> None:
        st.v = 1
        lk.release()  # a lock used as a signal

    t = threading.Thread(target=w)
    t.start()
    while lk.locked():
        time.sleep(0.01)
    st.v = 2
    t.join()


def _bounded_queue_back_pressure() -> None:
    st, q = _State(), queue.Queue(maxsize=1)  # type: ignore[var-annotated]

    def consumer() -> None:
        st.v = 5
        q.get()

    t = threading.Thread(target=consumer)
    t.start()
    q.put(1)
    q.put(2)  # returns only once the consumer took the first item
    st.v = 6
    t.join()


@pytest.mark.parametrize("strategy", ["random", "dpor"])
@pytest.mark.parametrize("body", [_wait_for_predicate, _queue_hooks, _polls_is_alive, _polls_active_count,
                                  _event_clear_seen, _polls_queue_empty, _polls_lock_locked,
                                  _bounded_queue_back_pressure])
def test_orderings_made_inside_the_standard_library_are_edges(body: Callable[[], None], strategy: str) -> None:
    r = interleave.explore(body, strategy=strategy, races="report", executions=40, seed=1)
    assert r.failure is None, r.failure.report if r.failure else ""
    assert r.races == [], [x.describe() for x in r.races]


def test_an_unordered_write_in_a_queue_hook_still_races() -> None:
    # The mutex orders the hook's own writes, not a write the body makes outside the queue.
    def body() -> None:
        q = _CountingQueue()

        def writer() -> None:
            q.count = 10

        run_threads(lambda: q.put(1), writer)

    r = interleave.explore(body, strategy="random", races="report", executions=40, seed=1)
    assert any(x.location == "_CountingQueue.count" for x in r.races), [x.describe() for x in r.races]
