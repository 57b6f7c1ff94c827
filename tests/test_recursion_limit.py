"""Threads that reach the recursion limit: a verdict, never a crash inside the scheduler.

A switch point reached a few frames under the limit used to run the harness's own work (the
strategy's choice, DPOR's analysis) past it: ``RecursionError`` inside the scheduler, and the
exploration ended in an internal error. With the monitoring back-end the harness gets room of
its own there (runtime/headroom.py). With settrace the trace function cannot be called at the
limit and CPython drops it: that, and any other loss of the trace function after the first
execution, must end the exploration with an error, not with passes that tested nothing.
"""

from __future__ import annotations

import sys
import threading
from typing import List

import pytest
from programs import locked_counter

import interleave
from interleave.instrument.settrace import _real_settrace
from interleave.strategies import registry
from interleave.versions import CURRENT

STRATEGIES = registry.names()
MONITORING = sys.version_info >= (3, 12)


def _down(n: int) -> int:
    return 0 if n == 0 else _down(n - 1) + 1


def recursing_threads(catch: bool = True) -> None:
    """Two threads recurse until RecursionError and catch it; a shared counter, updated under a lock."""
    seen: List[str] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            _down(10 ** 6)
        except RecursionError:
            with lock:
                seen.append("limit")

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == ["limit", "limit"], seen


@pytest.mark.skipif(not MONITORING, reason="room near the limit needs the monitoring back-end (3.12+)")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_threads_recursing_to_the_limit_get_a_verdict(strategy: str) -> None:
    r = interleave.explore(recursing_threads, strategy=strategy, executions=4, seed=3, backend="monitoring")
    assert r.failure is None, r.failure.report if r.failure else ""
    assert r.executions >= 1


@pytest.mark.skipif(not MONITORING, reason="room near the limit needs the monitoring back-end (3.12+)")
def test_a_race_after_a_deep_recursion_is_still_found() -> None:
    class Box:
        n = 0

    box = Box()

    def work() -> None:
        try:
            _down(10 ** 6)
        except RecursionError:
            pass
        box.n += 1

    def body() -> None:
        box.n = 0
        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box.n == 2

    r = interleave.explore(body, executions=200, seed=1, backend="monitoring")
    assert r.failure is not None and r.failure.kind == "exception"


def test_settrace_at_the_limit_is_a_verdict_or_a_clear_error() -> None:
    """Where the dropped trace function is set again when a thread resumes (3.10, 3.11) the run
    goes on traced; elsewhere the drop ends the exploration with an error that says why."""
    try:
        r = interleave.explore(recursing_threads, executions=4, seed=3, backend="settrace")
    except interleave.InstrumentationError as exc:
        assert "recursion limit" in str(exc)
        assert not CURRENT.settrace_rearm
    else:
        assert r.failure is None, r.failure.report
        assert CURRENT.settrace_rearm


@pytest.mark.skipif(CURRENT.settrace_rearm, reason="3.10/3.11 set the trace function again when a thread resumes")
def test_a_tracer_dropped_after_the_first_execution_is_an_error() -> None:
    """Before, only the first execution was checked: the ones after a drop ran untraced and passed."""
    runs: List[int] = []

    def body() -> None:
        runs.append(1)
        if len(runs) == 3:
            # As CPython does at the recursion limit (a call of sys.settrace itself is refused
            # and named: test_instrumentation.py).
            _real_settrace(None)
        locked_counter()

    old = sys.gettrace()
    try:
        with pytest.raises(interleave.InstrumentationError, match="removed during an execution"):
            interleave.explore(body, executions=20, seed=0, strategy="random", backend="settrace")
    finally:
        sys.settrace(old)
    assert len(runs) == 3
