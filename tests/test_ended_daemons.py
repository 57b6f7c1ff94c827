"""Daemon threads still running when the body returns end with it: a passing result says so, and names them."""

from __future__ import annotations

import queue
import sys
import threading

import pytest

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
    assert "test_ended_daemons.py:" in note and "Stop them before the body returns" in note, note


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_note_when_the_body_stops_its_daemon(strategy: str) -> None:
    r = interleave.explore(lambda: _server(stop=True), strategy=strategy, executions=20, seed=1)
    assert r.failure is None
    assert not [w for w in r.warnings if "still running" in w], r.warnings


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
