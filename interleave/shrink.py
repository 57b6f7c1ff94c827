"""Shrinking a failing schedule: fewest preemptions first, then fewest switches and steps."""

from __future__ import annotations

from dataclasses import replace
from time import process_time as _clock
from typing import Any, Callable, Iterator, List, Tuple

from .runtime.outcome import Outcome
from .strategies.guided import GuidedStrategy
from .token import Schedule

MAX_ATTEMPTS = 400
# Phase 1 (iterative preemption bounding) gets this many executions in all.
BOUNDED_SEARCH_EXECUTIONS = 3000
# Steps (switch-point picks) all shrinking executions may take together, phase 1 half of them.
# A bound in steps ends shrinking at the same place on any machine: the token a seed gives does
# not depend on the load (a wall-clock bound alone made it shorter on a busy machine).
MAX_STEPS = 1_000_000
# Only for executions that spend their time where no step is counted (uninstrumented code):
# generous, so that it ends a shrink only when the step and count bounds cannot. CPU seconds of
# this process, not wall time: on a loaded machine (tests in parallel, a busy CI runner) a wall
# clock ran out first and the same seed reported another, less shrunk failure.
MAX_SECONDS = 20.0

Runs = List[Tuple[int, int]]
Cost = Tuple[int, int, int]


def _cost(outcome: Outcome) -> Cost:
    return (outcome.preemptions, len(outcome.runs), outcome.steps)


def _candidates(runs: Runs) -> Iterator[Runs]:
    """Edits of a schedule, most promising first: shorter prefixes, fewer runs, shorter runs.

    Made one at a time, as they are tried: a livelock's schedule has tens of thousands of runs,
    and all its edits at once (three per run, each as long as the schedule) would not fit in
    memory, while only ``MAX_ATTEMPTS`` of them are ever tried.
    """
    n = len(runs)
    # Keep only a prefix: the rest is completed without preemptions by the guided replay.
    size = n // 2
    while size >= 1:
        yield runs[:size]
        size //= 2
    # Drop one run (one switch), latest first: late switches are usually the noise of a walk.
    for i in range(n - 1, 0, -1):
        yield runs[:i] + runs[i + 1:]
    # Fewer steps before a switch.
    for i in range(n):
        tid, steps = runs[i]
        if steps > 1:
            yield runs[:i] + [(tid, steps // 2)] + runs[i + 1:]
            yield runs[:i] + [(tid, steps - 1)] + runs[i + 1:]


def shrink_schedule(session: Any, outcome: Outcome, schedule: Schedule,
                    budget: Callable[[], bool] = lambda: True, max_steps: int = MAX_STEPS) -> Schedule:
    """The smallest schedule found that fails the same way (same kind, exception type and place),
    within ``max_steps`` steps of shrinking executions in all."""
    target = outcome.signature()
    best_runs: Runs = list(schedule.runs)
    best_cost = _cost(outcome)
    start = _clock()
    lone = schedule.lone_points
    spent = [0]  # steps taken by shrinking executions so far
    found = _fewest_preemptions(session, target, schedule.random_seed, best_cost[0], start, budget, spent,
                                max_steps)
    if found is not None and _cost(found) < best_cost:
        best_runs, best_cost, lone = list(found.runs), _cost(found), found.lone_points
    attempts = 0
    improved = True
    while improved:
        improved = False
        for cand in _candidates(best_runs):
            if (attempts >= MAX_ATTEMPTS or spent[0] >= max_steps or _clock() - start > MAX_SECONDS
                    or not budget()):
                return _with_runs(schedule, best_runs, lone)
            attempts += 1
            got = session.run_once(GuidedStrategy(cand, lone), schedule.random_seed)
            spent[0] += got.steps
            if got.failed and got.signature() == target and _cost(got) < best_cost:
                best_runs, best_cost = list(got.runs), _cost(got)
                improved = True
                break  # restart from the new, smaller schedule
    return _with_runs(schedule, best_runs, lone)


def _fewest_preemptions(session: Any, target: tuple, random_seed: int, preemptions: int,
                        start: float, budget: Callable[[], bool], steps: List[int], max_steps: int) -> Any:
    """Search schedules with 0, 1, ... preemptions (fewer than the failure has) for the same failure."""
    from .strategies.exhaustive import ExhaustiveStrategy

    spent = 0
    for k in range(preemptions):
        strat = ExhaustiveStrategy(k)
        while not strat.exhausted():
            if (spent >= BOUNDED_SEARCH_EXECUTIONS or steps[0] >= max_steps // 2
                    or _clock() - start > MAX_SECONDS / 2 or not budget()):
                return None
            spent += 1
            got = session.run_once(strat, random_seed)
            steps[0] += got.steps
            strat.end_execution(got)
            if got.failed and got.signature() == target:
                return got
    return None


def _with_runs(schedule: Schedule, runs: Runs, lone_points: bool) -> Schedule:
    return replace(schedule, runs=tuple(runs), lone_points=lone_points)
