"""Daemon threads still running when the body returns end with it: a passing result says so, and names them."""

from __future__ import annotations

import queue
import sys
import threading

import programs
import pytest
from runtime_helpers import run_threads

import interleave

pytest_plugins = ["pytester"]

STRATEGIES = ["random", "pct", "exhaustive", "dpor", "portfolio"]
BACKENDS = ["auto"] + (["settrace"] if sys.version_info >= (3, 12) else [])


def _server(stop: bool) -> None:
    q: queue.Queue = queue.Queue()

    def serve() -> None:
        while True:
            item = q.get()
            q.task_done()
            if item is None:
                return

    t = threading.Thread(target=serve, daemon=True, name="server")
    t.start()
    q.put(1)
    q.join()
    if stop:
        q.put(None)
        t.join()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_daemon_left_waiting_is_named_in_the_result(strategy: str, backend: str) -> None:
    r = interleave.explore(lambda: _server(stop=False), strategy=strategy, executions=20, seed=1, backend=backend)
    assert r.failure is None
    notes = [w for w in r.warnings if "still running when the body returned" in w]
    assert len(notes) == 1, r.warnings
    note = " ".join(notes[0].split())
    assert note.startswith("1 daemon thread was still running when the body returned (server"), note
    # Where it was: waiting in q.get(), or (random may leave it there) ready between two of its steps.
    assert "test_ended_daemons.py:" in note and "Stop them, and join them, before the body returns" in note, note


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_note_when_the_body_stops_its_daemon(strategy: str) -> None:
    r = interleave.explore(lambda: _server(stop=True), strategy=strategy, executions=20, seed=1)
    assert r.failure is None
    assert not [w for w in r.warnings if "still running" in w], r.warnings


def _told_to_stop_but_not_joined() -> None:
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True, name="waiter").start()
    q: queue.Queue = queue.Queue()

    def serve() -> None:
        while q.get() is not None:
            pass

    threading.Thread(target=serve, daemon=True, name="consumer").start()
    stop.set()
    q.put(None)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_daemons_told_to_stop_but_not_joined_are_ready_to_run_not_waiting(strategy: str) -> None:
    """Cut off before they ended all the same, but not "waiting for Event.wait() (not set)"."""
    r = interleave.explore(_told_to_stop_but_not_joined, strategy=strategy, executions=50, seed=1)
    assert r.failure is None
    notes = [" ".join(w.split()) for w in r.warnings if "still running" in w]
    assert notes and "ready to run" in notes[0] and "not set" not in notes[0] and "(empty)" not in notes[0], notes
    assert "join them" in notes[0]


def test_threads_waiting_at_the_same_place_are_named_together() -> None:
    def body() -> None:
        q: queue.Queue = queue.Queue()
        for i in range(5):
            threading.Thread(target=q.get, daemon=True, name=f"worker-{i}").start()

    r = interleave.explore(body, strategy="exhaustive", executions=1)
    note = " ".join(r.warnings[0].split())
    assert note.startswith("5 daemon threads were still running when the body returned (worker-0, worker-1, "
                           "worker-2 and 2 more, "), note
    assert note.count("worker-") == 3, note


def test_a_failing_result_carries_no_note() -> None:
    def body() -> None:
        threading.Thread(target=queue.Queue().get, daemon=True).start()
        programs.lost_update()

    r = interleave.explore(body, strategy="random", executions=200, seed=1)
    assert r.failure is not None
    assert not [w for w in r.warnings if "still running" in w], r.warnings
    # Each execution starts a daemon of its own, which nothing keeps: no warning that one was kept.
    assert "before this one, ended daemon thread" not in r.failure.report


def test_a_marked_test_that_leaves_a_daemon_running_warns_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_daemons='''
import queue
import threading
import pytest


def serve(q):
    while True:
        if q.get() is None:
            return


@pytest.mark.interleave(executions=10)
def test_left_running():
    q = queue.Queue()
    threading.Thread(target=serve, args=(q,), daemon=True, name="server").start()
    q.put(1)


@pytest.mark.interleave(executions=10)
def test_stopped():
    q = queue.Queue()
    t = threading.Thread(target=serve, args=(q,), daemon=True, name="server")
    t.start()
    q.put(None)
    t.join()
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "default")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert out.count("InterleaveEndedThreadsWarning") == 1, out
    result.stdout.fnmatch_lines(["*test_daemons.py::test_left_running*", "*InterleaveEndedThreadsWarning: 1 daemon*"])
    assert "test_daemons.py::test_stopped" not in out.split("warnings summary", 1)[1], out
    # At the test's own line, not the plugin's: a filterwarnings of the module applies to it.
    result.stdout.fnmatch_lines(["*/test_daemons.py:12: InterleaveEndedThreadsWarning*"])


class _Library:
    """Like tqdm's monitor: a daemon thread started once per process and kept in a class attribute."""

    monitor = None

    @classmethod
    def ensure_monitor(cls) -> None:
        if cls.monitor is None:
            cls.monitor = threading.Thread(target=threading.Event().wait, daemon=True, name="monitor")
            cls.monitor.start()


def _take_a_lock_in_threads(count: int) -> None:
    lock = threading.Lock()

    def work() -> None:
        with lock:
            pass

    run_threads(*[work] * count)


def _uses_a_kept_monitor() -> None:
    _Library.ensure_monitor()
    _take_a_lock_in_threads(2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["dpor", "exhaustive"])
def test_a_search_stopped_by_a_thread_kept_from_an_earlier_execution_names_it(strategy: str, backend: str) -> None:
    """The divergence note names the daemon an earlier execution ended and kept, the likely cause."""
    _Library.monitor = None
    try:
        r = interleave.explore(_uses_a_kept_monitor, strategy=strategy, executions=200, seed=1, backend=backend)
    finally:
        _Library.monitor = None
    assert r.failure is None and r.stop_reason == "unproved" and r.not_a_proof == ("divergence",), r
    assert "state an earlier execution left, such as a thread started once and kept" in " ".join(r.verdict.split())
    stopped = [" ".join(w.split()) for w in r.warnings if w.startswith("the search stopped at execution")]
    assert len(stopped) == 1, r.warnings
    assert "An earlier execution ended daemon thread monitor with its body" in stopped[0], stopped
    assert "does not start it again" in stopped[0], stopped


def test_a_divergence_without_a_kept_thread_names_none() -> None:
    box = [0]

    def body() -> None:  # a different path in every execution: a counter kept between them
        box[0] += 1
        _take_a_lock_in_threads(box[0] % 2 + 1)

    r = interleave.explore(body, strategy="dpor", executions=50, seed=1)
    stopped = [w for w in r.warnings if w.startswith("the search stopped at execution")]
    assert r.not_a_proof == ("divergence",) and stopped, r
    assert "daemon thread" not in stopped[0], stopped


class _Service:
    """A service that starts its daemon worker on first use and keeps it (futurist's pool, a client's sender)."""

    def __init__(self) -> None:
        self.requests: queue.Queue = queue.Queue()
        self.worker = None

    def call(self, x: int) -> int:
        if self.worker is None:
            self.worker = threading.Thread(target=self._serve, daemon=True, name="worker")
            self.worker.start()
        reply: queue.Queue = queue.Queue()
        self.requests.put((x, reply))
        return reply.get()

    def _serve(self) -> None:
        while True:
            x, reply = self.requests.get()
            reply.put(x * 2)


SERVICE = _Service()


def _calls_the_kept_service() -> None:
    assert SERVICE.call(1) == 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "dpor", "portfolio"])
def test_a_failure_after_an_execution_ended_a_kept_daemon_says_it_may_come_from_that(strategy: str,
                                                                                     backend: str) -> None:
    """Execution 1 ends the worker the service keeps; execution 2 waits for a reply nobody sends.

    The deadlock is interleave's doing, not the schedule's: the report says so, and names the thread.
    """
    SERVICE.worker = None
    try:
        r = interleave.explore(_calls_the_kept_service, strategy=strategy, executions=20, seed=1, backend=backend)
    finally:
        SERVICE.worker = None
    assert r.failure is not None and r.failure.kind == "deadlock", r
    report = " ".join(r.failure.report.split())
    assert "WARNING: execution 1, before this one, ended daemon thread worker with its body" in report, report
    assert "for real the thread would still be running" in report

