"""Timeouts and fairness: threads that poll with a timeout cannot starve a thread that could run.

A timeout may run out early, while another thread could run (any thread may be slow), but after
``EARLY_TIMEOUTS`` of them in a row passed a ready thread over, none runs out early until it has
run. Before, two pollers taking turns (dramatiq's consumer and worker threads, huey's) kept the
thread that would stop them waiting until the step limit: a correct program reported as a livelock.
"""

from __future__ import annotations

import queue
import sys
import threading

import pytest
from runtime_helpers import run_threads

import interleave
from interleave.runtime.fairness import EARLY_TIMEOUTS

pytestmark = pytest.mark.timeout(300)

BACKENDS = ["auto"] + (["settrace"] if sys.version_info >= (3, 12) else [])
STRATEGIES = [("dpor", {}), ("exhaustive", {}), ("exhaustive", {"preemptions": 0}), ("pct", {}),
              ("portfolio", {}), ("random", {}), ("rounds", {}), ("pos", {})]


def pollers_and_a_setter() -> None:
    stop = threading.Event()

    def poller() -> None:
        while not stop.is_set():
            stop.wait(0.1)

    run_threads(poller, poller, stop.set)


def queue_pollers_and_a_worker() -> None:
    stop = threading.Event()
    q: queue.Queue = queue.Queue()
    done = []

    def poller() -> None:
        while not stop.is_set():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass

    def worker() -> None:
        done.append(1)
        stop.set()

    run_threads(poller, poller, worker)
    assert done == [1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy,params", STRATEGIES, ids=[f"{s}{p}" for s, p in STRATEGIES])
def test_two_timed_pollers_do_not_starve_the_thread_that_stops_them(strategy: str, params: dict,
                                                                   backend: str) -> None:
    for body in (pollers_and_a_setter, queue_pollers_and_a_worker):
        r = interleave.explore(body, strategy=strategy, backend=backend, executions=30, seed=0, **params)
        assert r.failure is None, r.failure.report


@pytest.mark.parametrize("backend", BACKENDS)
def test_dpor_replays_queue_pollers_without_a_divergence(backend: str) -> None:
    """A spinner's yield made the others go first until one ran on; whether one had was judged where
    the grant ended, so a replay (longer grants) kept them first where the search had not: DPOR
    stopped at its second execution on a divergence that was not the program's."""
    r = interleave.explore(queue_pollers_and_a_worker, strategy="dpor", backend=backend, executions=40, seed=0)
    assert r.failure is None, r.failure.report
    assert "divergence" not in r.not_a_proof and r.executions == 40, (r.verdict, r.warnings)


def test_a_search_that_held_timeouts_back_is_no_proof() -> None:
    r = interleave.explore(pollers_and_a_setter, strategy="exhaustive", preemptions=0, executions=10_000, seed=0)
    assert r.failure is None, r.failure.report
    assert r.stop_reason == "unproved" and "fairness" in r.not_a_proof, r.verdict


def test_pollers_with_nobody_to_stop_them_are_still_a_livelock() -> None:
    """The bound runs the ready thread; it does not end a loop nothing ends."""
    def body() -> None:
        stop = threading.Event()
        ready = threading.Event()

        def poller() -> None:
            while not stop.is_set():
                stop.wait(0.1)

        run_threads(poller, poller, ready.set)

    r = interleave.explore(body, strategy="dpor", executions=5, seed=0, max_steps=20_000, shrink=False)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict


def test_a_thread_slow_across_a_few_timeouts_is_still_explored() -> None:
    """A bug that needs a thread to stay ready while a timeout or two run out is still found."""
    def body() -> None:
        answered = threading.Event()
        late = []

        def worker() -> None:
            answered.set()

        def watchdog() -> None:
            for _ in range(3):  # three heartbeats missed: the worker is declared dead
                if answered.wait(1.0):
                    return
            late.append("declared dead")

        run_threads(watchdog, worker)
        assert not late, "a slow worker was declared dead"

    assert EARLY_TIMEOUTS > 3
    for strategy in ("dpor", "exhaustive", "portfolio"):
        r = interleave.explore(body, strategy=strategy, executions=200, seed=0)
        assert r.failure is not None and "declared dead" in str(r.failure.exception), (strategy, r.verdict)
