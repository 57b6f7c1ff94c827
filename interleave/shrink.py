"""Shrinking a failing schedule: fewest preemptions first, then fewest steps."""

from __future__ import annotations

from typing import Any, List, Tuple

from .runtime.outcome import Outcome
from .strategies.guided import GuidedStrategy
from .sync.vtime import _real_perf_counter as _clock
from .token import Schedule

MAX_ATTEMPTS = 300
MAX_SECONDS = 5.0

Runs = List[Tuple[int, int]]


def _cost(runs: Runs) -> Tuple[int, int]:
    return (len(runs), sum(n for _, n in runs))


def shrink_schedule(session: Any, outcome: Outcome, schedule: Schedule) -> Schedule:
    """The smallest schedule found that fails the same way (same kind, type and location)."""
    target = outcome.signature()
    best: Runs = list(schedule.runs)
    attempts = 0
    start = _clock()

    def attempt(runs: Runs) -> bool:
        nonlocal best, attempts
        if attempts >= MAX_ATTEMPTS or _clock() - start > MAX_SECONDS:
            return False
        attempts += 1
        got = session.run_once(GuidedStrategy(runs), schedule.random_seed)
        if got.failed and got.signature() == target and _cost(got.runs) < _cost(best):
            best = list(got.runs)
            return True
        return False

    improved = True
    while improved:
        improved = False
        # Drop the tail: the failure often needs only a prefix, then any completion.
        lo, hi = 1, len(best) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if attempt(best[:mid]):
                hi = len(best) - 1
                improved = True
            else:
                lo = mid + 1
        # Remove one run (one switch) at a time, latest first.
        i = len(best) - 1
        while i >= 1:
            if i < len(best) and attempt(best[:i] + best[i + 1:]):
                improved = True
            i -= 1
        # Shorten runs: fewer steps before each switch.
        for i in range(len(best)):
            if i < len(best) and best[i][1] > 1:
                tid, n = best[i]
                if attempt(best[:i] + [(tid, max(1, n // 2))] + best[i + 1:]):
                    improved = True
    return Schedule(tuple(best), schedule.model, schedule.random_seed, schedule.hash_seed, schedule.python)
