"""queue.Queue and friends, queue.SimpleQueue and ThreadPoolExecutor, used unmodified."""

from __future__ import annotations

import concurrent.futures as cf
import os
import queue
import subprocess
import sys
import textwrap
import threading
from typing import Any, Dict, List, Set

import pytest
from runtime_helpers import CORRECT_RUNS, QUICK_RUNS, assert_finds, assert_passes

import interleave


class Box:
    """A mutable cell shared between threads."""

    def __init__(self, value: Any = 0) -> None:
        self.value = value


# ----------------------------------------------------------------------------------- Queue
@pytest.mark.parametrize("kind", [queue.Queue, queue.LifoQueue, queue.PriorityQueue])
def test_queue_producer_consumer_task_done_join(kind: Any) -> None:
    def body() -> None:
        q = kind(maxsize=2)
        got: List[int] = []
        lock = threading.Lock()

        def consumer() -> None:
            while True:
                item = q.get()
                if item is None or item == (99,):
                    q.task_done()
                    return
                with lock:
                    got.append(item[0])
                q.task_done()

        cs = [threading.Thread(target=consumer) for _ in range(2)]
        for c in cs:
            c.start()
        for i in range(4):
            q.put((i,))
        q.join()  # every item processed: all four are in got
        assert sorted(got) == [0, 1, 2, 3]
        for _ in cs:
            q.put((99,))
        for c in cs:
            c.join()
        assert q.empty() and q.qsize() == 0

    # queue.Queue gets the full budget; its subclasses only change the container.
    assert_passes(body, executions=CORRECT_RUNS if kind is queue.Queue else QUICK_RUNS)


def test_queue_join_without_task_done_race_found() -> None:
    """Calling task_done() before the work is recorded lets join() return too early."""

    def body() -> None:
        q: queue.Queue = queue.Queue()
        done: List[int] = []

        def worker() -> None:
            item = q.get()
            q.task_done()
            done.append(item)

        t = threading.Thread(target=worker, daemon=True)
        t.start()
        q.put(1)
        q.join()
        assert done == [1]

    assert_finds(body)


def test_queue_order_semantics() -> None:
    def body() -> None:
        fifo: queue.Queue = queue.Queue()
        lifo: queue.LifoQueue = queue.LifoQueue()
        prio: queue.PriorityQueue = queue.PriorityQueue()

        def fill() -> None:
            for i in (2, 0, 1):
                fifo.put(i)
                lifo.put(i)
                prio.put(i)

        t = threading.Thread(target=fill)
        t.start()
        t.join()
        assert [fifo.get() for _ in range(3)] == [2, 0, 1]
        assert [lifo.get() for _ in range(3)] == [1, 0, 2]
        assert [prio.get() for _ in range(3)] == [0, 1, 2]

    assert_passes(body, executions=300)


def test_queue_full_and_empty_timeouts_both_outcomes() -> None:
    outcomes: Set[str] = set()

    def body() -> None:
        q: queue.Queue = queue.Queue(maxsize=1)
        q.put(0)
        t = threading.Thread(target=q.get)
        t.start()
        try:
            q.put(1, timeout=5.0)
            outcomes.add("put")
        except queue.Full:
            outcomes.add("full")
        t.join()
        with pytest.raises(queue.Full):
            q.put_nowait(2) if q.full() else (q.put_nowait(2), q.put_nowait(3))
        while not q.empty():
            q.get_nowait()
        with pytest.raises(queue.Empty):
            q.get(timeout=1.0)

    assert_passes(body, executions=400)
    assert outcomes == {"put", "full"}


def test_queue_check_then_get_race_found() -> None:
    def body() -> None:
        q: queue.Queue = queue.Queue()
        q.put(1)
        errors: List[Exception] = []

        def taker() -> None:
            if not q.empty():
                try:
                    q.get_nowait()
                except queue.Empty as exc:
                    errors.append(exc)

        ts = [threading.Thread(target=taker) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors

    assert_finds(body)


def test_queue_consumer_never_stopped_is_a_deadlock() -> None:
    def body() -> None:
        q: queue.Queue = queue.Queue()

        def consumer() -> None:
            while q.get() is not None:
                pass

        t = threading.Thread(target=consumer, name="consumer")
        t.start()
        q.put(1)
        t.join()  # forgot the sentinel

    failure = assert_finds(body, kind="deadlock", exc=None)
    waits = {b.thread: b.waits_for for b in failure.blocked}
    assert "Queue.get()" in waits["consumer"]
    assert "consumer to finish" in waits["MainThread"]


# ----------------------------------------------------------------------------- SimpleQueue
def test_simple_queue_handoff() -> None:
    def body() -> None:
        q: queue.SimpleQueue = queue.SimpleQueue()
        assert type(q).__module__.startswith("interleave")
        got: List[int] = []

        def consumer() -> None:
            for _ in range(3):
                got.append(q.get())

        t = threading.Thread(target=consumer)
        t.start()
        for i in range(3):
            q.put(i)
        t.join()
        assert got == [0, 1, 2] and q.empty() and q.qsize() == 0
        with pytest.raises(queue.Empty):
            q.get_nowait()

    assert_passes(body, executions=CORRECT_RUNS)


def test_simple_queue_get_timeout_both_outcomes() -> None:
    outcomes: Set[str] = set()

    def body() -> None:
        q: queue.SimpleQueue = queue.SimpleQueue()
        t = threading.Thread(target=q.put, args=(1,))
        t.start()
        try:
            outcomes.add(f"got {q.get(timeout=2.0)}")
        except queue.Empty:
            outcomes.add("empty")
        t.join()

    assert_passes(body, executions=300)
    assert outcomes == {"got 1", "empty"}


def test_simple_queue_unsynchronised_reader_found() -> None:
    def body() -> None:
        q: queue.SimpleQueue = queue.SimpleQueue()
        seen: List[int] = []

        def producer() -> None:
            q.put(1)

        t = threading.Thread(target=producer)
        t.start()
        if not q.empty():
            seen.append(q.get())
        t.join()
        assert seen == [1]

    assert_finds(body)


# ---------------------------------------------------------------------- ThreadPoolExecutor
def test_executor_submit_map_as_completed_wait_shutdown() -> None:
    def body() -> None:
        lock = threading.Lock()
        total = Box()

        def work(n: int) -> int:
            with lock:
                total.value += n
            return n * n

        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(work, n) for n in range(3)]
            assert sorted(f.result() for f in cf.as_completed(futures)) == [0, 1, 4]
            done, pending = cf.wait(futures)
            assert len(done) == 3 and not pending
            assert list(pool.map(work, [3, 4])) == [9, 16]
        assert total.value == 0 + 1 + 2 + 3 + 4
        with pytest.raises(RuntimeError):
            pool.submit(work, 1)

    assert_passes(body, executions=CORRECT_RUNS)


def test_executor_shutdown_wait_false_and_cancel() -> None:
    def body() -> None:
        gate = threading.Event()
        pool = cf.ThreadPoolExecutor(max_workers=1)
        first = pool.submit(gate.wait)
        second = pool.submit(lambda: 2)
        cancelled = second.cancel()  # may run already? only one worker, busy on the gate
        gate.set()
        pool.shutdown(wait=True)
        assert first.result() is True
        assert cancelled == second.cancelled()
        if not cancelled:
            assert second.result() == 2

    assert_passes(body, executions=500)


def test_executor_cache_fill_race_found() -> None:
    def body() -> None:
        cache: Dict[str, int] = {}
        computed: List[str] = []

        def get(key: str) -> int:
            if key not in cache:
                computed.append(key)
                cache[key] = len(key)
            return cache[key]

        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(get, ["ab", "ab"]))
        assert results == [2, 2]
        assert computed == ["ab"]  # computed once: wrong without a lock

    assert_finds(body)


def test_executor_exception_is_delivered_not_a_thread_failure() -> None:
    def body() -> None:
        def boom() -> None:
            raise KeyError("x")

        with cf.ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(boom)
            with pytest.raises(KeyError):
                fut.result()
            assert isinstance(fut.exception(), KeyError)

    assert_passes(body, executions=300)


def test_executor_wait_first_completed_timeout_both_outcomes() -> None:
    outcomes: Set[int] = set()

    def body() -> None:
        with cf.ThreadPoolExecutor(max_workers=1) as pool:
            fut = pool.submit(lambda: 1)
            done, _ = cf.wait([fut], timeout=0.5, return_when=cf.FIRST_COMPLETED)
            outcomes.add(len(done))

    assert_passes(body, executions=400)
    assert outcomes == {0, 1}


def test_executor_leaves_no_trace() -> None:
    import concurrent.futures.thread as cft

    def body() -> None:
        pool = cf.ThreadPoolExecutor(max_workers=2)
        pool.submit(lambda: None)
        # no shutdown: the run's end must still leave no worker and no atexit entry behind

    queues_before = dict(cft._threads_queues)
    atexit_before = list(threading._threading_atexits)  # type: ignore[attr-defined]
    threads_before = set(threading.enumerate())
    assert_passes(body, executions=100)
    assert dict(cft._threads_queues) == queues_before
    assert list(threading._threading_atexits) == atexit_before  # type: ignore[attr-defined]
    assert set(threading.enumerate()) == threads_before


@pytest.mark.timeout(120)
def test_executor_module_first_imported_inside_the_run(tmp_path: Any) -> None:
    """concurrent.futures imported for the first time by the code under test."""
    script = textwrap.dedent(
        """
        import sys, threading
        assert "concurrent.futures" not in sys.modules, "imported too early"
        import interleave

        def body():
            from concurrent.futures import ThreadPoolExecutor
            lock = threading.Lock()
            out = []
            def work(n):
                with lock:
                    out.append(n)
                return n
            with ThreadPoolExecutor(max_workers=2) as pool:
                assert sorted(pool.map(work, range(3))) == [0, 1, 2]
            assert sorted(out) == [0, 1, 2]

        r = interleave.explore(body, executions=200, seed=3)
        assert r.failure is None, r.failure.report
        import concurrent.futures.thread as cft
        assert not cft._threads_queues, cft._threads_queues
        assert threading.active_count() == 1, threading.enumerate()

        def buggy():
            from concurrent.futures import ThreadPoolExecutor
            box = [0]
            def work(n):
                box[0] = box[0] + n
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(work, [1, 1]))
            assert box[0] == 2

        r = interleave.explore(buggy, executions=500, seed=3)
        assert r.failure is not None and r.failure.kind == "exception", r.verdict
        t = threading.Thread(target=lambda: None)
        t.start(); t.join()
        # the module works for real afterwards and its exit hook is registered once, for real
        assert not cft._shutdown
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(lambda: 5).result() == 5
        def hook_target(h):  # a functools.partial up to 3.12, a lambda closing over it on 3.13
            cells = [c.cell_contents for c in (getattr(h, "__closure__", None) or ())]
            return getattr(h, "func", None) or next((c for c in cells if callable(c)), h)

        hooks = [hook_target(h) for h in threading._threading_atexits]
        assert hooks.count(cft._python_exit) == 1, hooks
        print("OK")
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(interleave.__file__)),
                                                    env.get("PYTHONPATH", "")] if p)
    path = tmp_path / "first_import.py"  # a real file: code from "-c" is not code under test
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=100, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("OK")
    assert "Teardown" not in proc.stderr and "Exception in worker" not in proc.stderr, proc.stderr
