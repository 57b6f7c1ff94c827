"""The fairness bound: spin-waits end, long loops that end may run to their end, nothing is called proved that was cut.

A thread that keeps the processor ``FAIRNESS_STREAK`` picks in a row while others could run is
followed until it stands at the same instruction of the same frame again: unchanged locals mean it
spins and yields; changed ones mean progress, and it may go on, up to ``fairness_cap(max_steps)``
picks in a row (``interleave/runtime/fairness.py``).
"""

from __future__ import annotations

import sys
import threading
from typing import List

import pytest
from guarantee_programs import Flags, reader_race

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


def counting_waiter() -> None:
    """Waits for a flag by counting (each iteration changes a local: it looks like progress)."""
    flags = Flags()
    saw: List[int] = []

    def waiter() -> None:
        for i in range(10**7):
            if flags.y:
                saw.append(i)
                return

    def setter() -> None:
        flags.y = 1

    ts = [threading.Thread(target=waiter), threading.Thread(target=setter)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert saw, "the waiter never saw the flag"


@pytest.mark.parametrize("max_steps", [5_000, 100_000])
@pytest.mark.parametrize("strategy", ["dpor", "pct", "exhaustive"])
def test_a_waiter_that_counts_still_yields_within_the_step_limit(strategy: str, max_steps: int) -> None:
    # It makes progress at every iteration, so only the cap makes it yield: a tenth of the step
    # limit, so that the wait ends long before the step limit (no false livelock).
    assert fairness_cap(max_steps) == max(FAIRNESS_STREAK, min(FAIRNESS_CAP, max_steps // 10))
    r = interleave.explore(counting_waiter, strategy=strategy, executions=3, seed=0, max_steps=max_steps)
    assert r.failure is None, r.failure.report
    assert r.executions == 3 or r.stop_reason == "unproved", r.verdict


class Turn:
    value = 0


def ping_pong() -> None:
    """Two threads hand a turn back and forth by spinning on it, three times each."""
    turn = Turn()

    def player(me: int) -> None:
        for _ in range(3):
            while turn.value != me:
                pass
            turn.value = 1 - me

    ts = [threading.Thread(target=player, args=(n,)) for n in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert turn.value == 0


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


class Flag:
    ready = False


def spin_wait() -> None:
    flag = Flag()

    def spin() -> None:
        while not flag.ready:
            pass

    def setter() -> None:
        flag.ready = True

    ts = [threading.Thread(target=spin), threading.Thread(target=setter)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


@pytest.mark.parametrize("backend", BACKENDS)
def test_dpor_on_a_spin_wait_runs_out_of_classes_but_is_no_proof(backend: str) -> None:
    r = interleave.explore(spin_wait, strategy="dpor", backend=backend, executions=5_000, seed=0)
    assert r.failure is None, r.failure.report
    assert r.stop_reason == "unproved" and not r.exhausted and r.not_a_proof == ("fairness",), r
    assert "fairness bound" in r.verdict, r.verdict
