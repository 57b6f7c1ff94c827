"""``time_budget`` bounds the exploration's wall time, also when one execution would outlast it.

The budget is checked between executions, and an execution still running a little after it ran
out (a loop that waits for real at every iteration, long computing) is stopped unjudged: explore
returns a spent time budget that says so, instead of running that execution to its step limit.
"""

from __future__ import annotations

import select
import sys
import threading

import pytest
from runtime_helpers import run_threads

import interleave
from interleave.strategies import registry

pytestmark = pytest.mark.timeout(60)

STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


def polls_for_real_forever() -> None:
    done = threading.Event()

    def poller() -> None:
        while not done.is_set():
            select.select([], [], [], 0.001)  # a real 1 ms wait: 100,000 steps take minutes

    t = threading.Thread(target=poller)
    t.start()
    t.join()


def two_increments() -> None:
    box = [0]

    def inc() -> None:
        box[0] += 1

    run_threads(inc, inc)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_execution_that_outlasts_the_time_budget_is_stopped_and_said_so(strategy: str, backend: str) -> None:
    r = interleave.explore(polls_for_real_forever, executions=10, seed=0, strategy=strategy, backend=backend,
                           # The session opens within the budget: under CI load (xdist workers
                           # with many modules to search for pre-run locks) that took over 0.5 s.
                           time_budget=1.5, max_steps=10_000_000)
    assert r.failure is None and r.stop_reason == "time", r.verdict
    assert r.executions == 0
    assert any("was stopped unjudged" in w and "Raise time_budget" in w for w in r.warnings), r.warnings


@pytest.mark.parametrize("strategy", ["random", "portfolio"])
def test_short_executions_end_at_the_time_budget_without_a_cut(strategy: str) -> None:
    r = interleave.explore(two_increments, executions=10**9, seed=0, strategy=strategy, time_budget=1.0)
    assert r.stop_reason == "time" and r.executions > 10, r.verdict
    assert not any("stopped unjudged" in w for w in r.warnings), r.warnings
