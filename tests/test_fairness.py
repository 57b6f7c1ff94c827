"""The fairness bound: spin-waits end, long loops that end may run to their end, nothing is called proved that was cut.

A thread that keeps the processor ``FAIRNESS_STREAK`` picks in a row while others could run is
followed until it stands at the same instruction of the same frame again: unchanged locals mean it
spins and yields; changed ones mean progress, and it may go on, up to ``fairness_cap(max_steps)``
picks in a row (``interleave/runtime/fairness.py``).
"""

from __future__ import annotations

import sys

import pytest
from guarantee_programs import counting_waiter, ping_pong, reader_race, spin_wait

import interleave
from interleave.runtime.fairness import FAIRNESS_CAP, FAIRNESS_STREAK, fairness_cap

pytestmark = pytest.mark.timeout(300)

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["dpor", "exhaustive", "pct", "portfolio"])
def test_a_race_after_a_long_loop_that_ends_is_found_and_replays(strategy: str, backend: str) -> None:
    # 1,500 reads in a row, then the racing read: every one of these strategies runs the first
    # thread on when it can. Before session 12 the bound made it yield at 1,000 and none found it.
    body = reader_race(1500)
    r = interleave.explore(body, strategy=strategy, backend=backend, executions=20, seed=0, shrink=False)
    assert r.failure is not None and isinstance(r.failure.exception, AssertionError), r.verdict
    assert r.executions <= 3, r.verdict
    again = interleave.replay(body, r.failure.token, backend=backend)
    assert again.failure is not None and isinstance(again.failure.exception, AssertionError)


@pytest.mark.parametrize("max_steps", [5_000, 100_000])
@pytest.mark.parametrize("strategy", ["dpor", "pct", "exhaustive"])
def test_a_waiter_that_counts_still_yields_within_the_step_limit(strategy: str, max_steps: int) -> None:
    # It makes progress at every iteration, so only the cap makes it yield: a tenth of the step
    # limit, so that the wait ends long before the step limit (no false livelock).
    assert fairness_cap(max_steps) == max(FAIRNESS_STREAK, min(FAIRNESS_CAP, max_steps // 10))
    r = interleave.explore(counting_waiter, strategy=strategy, executions=3, seed=0, max_steps=max_steps)
    assert r.failure is None, r.failure.report
    assert r.executions == 3 or r.stop_reason == "unproved", r.verdict


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_spin_wait_yields_at_the_bound_not_at_the_cap(backend: str) -> None:
    # A spinner's locals never change: it is found spinning a few picks after the bound, so a
    # hand-over costs about FAIRNESS_STREAK picks, never the cap's 10,000.
    r = interleave.explore(ping_pong, strategy="pct", backend=backend, executions=5, seed=0)
    assert r.failure is None, r.failure.report
    steps = _steps_of(ping_pong, backend)
    assert steps < 4 * FAIRNESS_STREAK * 6, steps  # six hand-overs at most


def _steps_of(body: object, backend: str) -> int:
    """Steps of one pct execution of ``body``, read from a failure forced at its end."""

    def failing() -> None:
        body()  # type: ignore[operator]
        raise RuntimeError("end")

    r = interleave.explore(failing, strategy="pct", backend=backend, executions=1, seed=0, shrink=False)
    assert r.failure is not None and isinstance(r.failure.exception, RuntimeError), r.verdict
    return r.failure.steps


@pytest.mark.parametrize("backend", BACKENDS)
def test_dpor_on_a_spin_wait_runs_out_of_classes_but_is_no_proof(backend: str) -> None:
    r = interleave.explore(spin_wait, strategy="dpor", backend=backend, executions=5_000, seed=0)
    assert r.failure is None, r.failure.report
    assert r.stop_reason == "unproved" and not r.exhausted and r.not_a_proof == ("fairness",), r
    assert "fairness bound" in r.verdict, r.verdict
