"""Shared budgets and checks for the real-library suite."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import pytest

import interleave

#: INTERLEAVE_REALWORLD_LONG=1: correct uses run 2,000 executions per seed (the acceptance run);
#: the default CI run uses 300, which keeps the suite under two minutes per Python version.
LONG = os.environ.get("INTERLEAVE_REALWORLD_LONG", "") not in ("", "0")
CLEAN_EXECUTIONS = 2000 if LONG else 300
#: A known race must be found within this many executions, in every seed.
RACE_BUDGET = 2000
SEEDS = (1, 2, 3)
RACE_STRATEGIES = ("random", "pct", "pos", "portfolio")
CLEAN_STRATEGIES = ("portfolio", "random", "pct") if LONG else ("portfolio",)

#: One row per exploration: (test id, strategy, seed, executions, verdict, seconds); the
#: conftest prints them after the run, so a long run's figures can be copied into the docs.
RECORDS: List[Tuple[str, str, int, int, str, float]] = []

long_run = pytest.mark.skipif(not LONG, reason="set INTERLEAVE_REALWORLD_LONG=1 for the long run")


def run_threads(*targets: Callable[[], Any]) -> None:
    """Start one thread per target, then join them all."""
    ts = [threading.Thread(target=t) for t in targets]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _explore(body: Callable[[], None], instrument: Sequence[str], strategy: str, seed: int,
             executions: int, **kw: Any) -> Any:
    started = time.perf_counter()
    result = interleave.explore(body, executions=executions, seed=seed, strategy=strategy,
                                instrument=list(instrument), **kw)
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
    verdict = str(result.verdict).split(":")[0]
    RECORDS.append((test, strategy, seed, result.executions, verdict, time.perf_counter() - started))
    return result


def assert_race_found(body: Callable[[], None], instrument: Sequence[str], strategy: str,
                      expected: Any = BaseException, raised_in: str = "", **kw: Any) -> Dict[int, int]:
    """The race fails the body in every seed; returns executions needed per seed."""
    needed: Dict[int, int] = {}
    for seed in SEEDS:
        result = _explore(body, instrument, strategy, seed, RACE_BUDGET, **kw)
        assert result.failure is not None, f"seed {seed}: {result.verdict}"
        assert isinstance(result.failure.exception, expected), result.failure.report
        assert raised_in in result.failure.report.split("Interleaving")[0], result.failure.report
        assert result.failure.reproducible, result.failure.report
        needed[seed] = result.executions
    return needed


def assert_clean(body: Callable[[], None], instrument: Sequence[str], strategy: str = "portfolio",
                 executions: int = 0, **kw: Any) -> None:
    """No failure in any seed: the library used as documented is correct."""
    for seed in SEEDS:
        result = _explore(body, instrument, strategy, seed, executions or CLEAN_EXECUTIONS, **kw)
        assert result.failure is None, result.failure.report
