"""The strategy contract, run by every strategy the registry names (a new one is covered by registering it)."""

from __future__ import annotations

from typing import Any, List, Tuple

import pytest
from programs import lost_update, racy

import interleave
from interleave.api import DEFAULT_MAX_STEPS
from interleave.errors import OptionError
from interleave.exploration import run_executions
from interleave.races import recorder_for
from interleave.session import Session
from interleave.strategies import registry
from interleave.strategies.base import Strategy
from interleave.sync.vtime import _real_perf_counter as clock

NAMES = registry.names()








class Watched:
    """What a strategy answered during a run, checked after it (never raised inside the runtime)."""

    def __init__(self, strat: Strategy) -> None:
        self.bad_choices: List[Tuple[List[int], int, int]] = []
        self.new_execution: List[bool] = []
        choose, new_execution = strat.choose, strat.new_execution

        def checked_choose(runnable: List[int], current: int, used: int) -> Tuple[int, int]:
            tid, n = choose(runnable, current, used)
            if tid not in runnable or not isinstance(n, int) or n <= 0:
                self.bad_choices.append((list(runnable), tid, n))
            return tid, n

        def watched_new_execution() -> bool:
            answer = new_execution()
            self.new_execution.append(answer)
            return answer

        strat.choose = checked_choose  # type: ignore[method-assign]
        strat.new_execution = watched_new_execution  # type: ignore[method-assign]


def schedules(name: str, seed: int, executions: int, body: Any = racy,
              **params: Any) -> Tuple[List[Any], Strategy, Watched]:
    """The schedule (runs) of each execution of ``body`` under a fresh ``name`` strategy."""
    strat = registry.make(name, seed, **params)
    watched = Watched(strat)
    runs: List[Any] = []

    def keep(outcome: Any, rseed: int) -> bool:
        runs.append(tuple(outcome.runs))
        return False

    try:
        with Session(body, model="instruction", max_steps=DEFAULT_MAX_STEPS) as session:
            run_executions(session, strat, executions=executions, seed=seed, start=clock(),
                           recorder=lambda: recorder_for(strat, None), after=keep)
    finally:
        strat.close()
    return runs, strat, watched


def test_the_registry_names_every_builtin_strategy() -> None:
    assert {"random", "pct", "exhaustive", "dpor", "portfolio", "hypothesis"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_schedules(name: str) -> None:
    first, strat, _ = schedules(name, seed=11, executions=12)
    again, _, _ = schedules(name, seed=11, executions=12)
    assert first and first == again
    if not strat.bounded:
        assert len(first) == 12


@pytest.mark.parametrize("name", NAMES)
def test_choices_are_runnable_threads_with_a_positive_count(name: str) -> None:
    _, _, watched = schedules(name, seed=3, executions=15)
    assert watched.bad_choices == []


@pytest.mark.parametrize("name", NAMES)
def test_only_bounded_strategies_run_out(name: str) -> None:
    probe = registry.make(name, 5)
    bounded = probe.bounded
    probe.close()
    # Two threads of one increment each, within one preemption where the strategy has a bound:
    # a space that every bounded strategy covers in a few hundred executions.
    small = {"preemptions": 1} if bounded and "preemptions" in registry.parameters(name) else {}
    runs, strat, watched = schedules(name, seed=5, executions=2000 if bounded else 60, **small)
    if strat.bounded:
        assert strat.exhausted(), f"{name} did not cover the space in {len(runs)} executions"
        assert strat.new_execution() is False
    else:
        assert len(runs) == 60
        assert all(watched.new_execution) and not strat.exhausted()
        assert strat.bound_description == ""


@pytest.mark.parametrize("name", NAMES)
def test_describe_and_close(name: str) -> None:
    fresh = registry.make(name, 0)
    assert isinstance(fresh.describe(), str) and fresh.describe()
    assert isinstance(fresh.describe_active(), str) and fresh.describe_active()
    fresh.close()  # never run: nothing to release, and no error
    _, used, _ = schedules(name, seed=0, executions=3)
    used.close()  # a second close, after the loop's


@pytest.mark.parametrize("name", NAMES)
def test_finds_a_lost_update_and_replays_it(name: str) -> None:
    result = interleave.explore(lost_update, strategy=name, seed=1, executions=300)
    assert result.failure is not None, f"{name} missed a two-thread lost update in {result.executions} executions"
    assert isinstance(result.failure.exception, AssertionError)
    again = interleave.replay(lost_update, result.failure.token)
    assert again.failure is not None and isinstance(again.failure.exception, AssertionError)


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_parameter_is_an_option_error(name: str) -> None:
    with pytest.raises(OptionError):
        registry.make(name, 0, no_such_parameter=1)
    for other in registry.PARAMETERS:
        if other not in registry.parameters(name):
            with pytest.raises(OptionError, match=name):
                registry.make(name, 0, **{other: 2})
