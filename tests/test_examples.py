"""The programs in examples/ behave as their docstrings say.

Every buggy example is found by the random strategy with a fixed seed (the failure kind, the
exception type and the message are checked, and the token replays the same failure); every
fixed example passes 2,000 random executions (1,000 below Python 3.12, see FIXED_EXECUTIONS);
the deadlocking bank transfer is reported as a deadlock that names both threads. Strategies
other than ``random`` are tested when they are registered and skipped, with the reason, when
they are not.

Budgets are execution counts with fixed seeds, never times, so the outcomes do not depend on the
machine's speed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from example_loader import EXAMPLES, example

import interleave
from interleave.strategies import registry


def body(name: str, function: str) -> Callable[[], Any]:
    return getattr(example(name), function)


# (example, function, random budget, failure kind, exception type, texts of which the message
# must contain one).
# Seed 0 throughout. The shallow bugs fall within a few executions; the budgets leave a wide
# margin so that a change in how many switch points a Python version's bytecode has cannot make
# the test flaky. deep_counter and reorder need hundreds to thousands of random executions (seed 0
# finds them in 40 and 69-765 depending on the Python version), so they get 20,000.
BUGGY: List[Tuple[str, str, int, str, Optional[type], Tuple[str, ...]]] = [
    ("lost_update", "buggy", 500, "exception", AssertionError, ("counter is 1",)),
    # Check-then-act fails two ways: both withdrawals pass the check (overdraft), or one
    # balance write overwrites the other (money created).
    ("bank_transfer", "buggy", 500, "exception", AssertionError, ("alice is overdrawn", "money changed")),
    ("bank_transfer", "deadlocking", 500, "deadlock", None, ()),
    ("lazy_singleton", "buggy", 500, "exception", AssertionError, ("Settings() ran 2 times", "Settings() ran 3 times")),
    ("producer_consumer", "buggy", 500, "exception", AssertionError, ("word counts are wrong",)),
    ("executor_cache", "buggy", 500, "exception", AssertionError,
     ("each key should be computed once", "different reports for the same key")),
    ("deep_counter", "buggy", 20_000, "exception", AssertionError, ("the counter ended at 2",)),
    ("reorder", "buggy", 20_000, "exception", AssertionError, ("published without a changelog",)),
]

FIXED = ["lost_update", "bank_transfer", "lazy_singleton", "producer_consumer", "executor_cache",
         "deep_counter", "reorder"]

# The strategies that issue 3 asked for, all registered now: a test that needs one fails if it goes.
PLANNED_STRATEGIES = ["pct", "pos", "exhaustive", "portfolio", "dpor", "hypothesis"]
# Parameters a strategy needs to terminate on these programs (unbounded DFS would not finish).
STRATEGY_PARAMS: Dict[str, Dict[str, Any]] = {"exhaustive": {"preemptions": 2}}


def _ids(case: tuple) -> str:
    return f"{case[0]}.{case[1]}"


def _require(strategy: str) -> None:
    # Not a skip: a strategy that stopped being registered would turn these tests into silent skips.
    assert strategy in registry.names(), f"strategy {strategy!r} is not registered ({', '.join(registry.names())})"


def _check_failure(result: interleave.Result, kind: str, exc_type: Optional[type], texts: Tuple[str, ...]) -> None:
    failure = result.failure
    assert failure is not None, result.verdict
    assert failure.kind == kind, failure.report
    if exc_type is not None:
        assert isinstance(failure.exception, exc_type), failure.report
        assert any(text in str(failure.exception) for text in texts), failure.report
    assert failure.token and failure.token in failure.report
    assert result.verdict.startswith("FAILED")


@pytest.mark.parametrize("case", BUGGY, ids=_ids)
def test_random_finds_each_buggy_example(case: tuple) -> None:
    name, function, budget, kind, exc_type, texts = case
    fn = body(name, function)
    result = interleave.explore(fn, strategy="random", executions=budget, seed=0)
    _check_failure(result, kind, exc_type, texts)
    assert result.executions <= budget

    # The token is the whole story: replaying it fails the same way.
    again = interleave.replay(fn, result.failure.token)
    assert again.failure is not None, again.verdict
    assert again.failure.kind == kind
    assert type(again.failure.exception) is type(result.failure.exception)


# 2,000 executions per fixed example. Below 3.12 the settrace back-end makes each execution 2-3x
# dearer (3-4 s per example on 3.9), which would push this file past a minute per Python
# version, so there it runs 1,000.
FIXED_EXECUTIONS = 2000 if sys.version_info >= (3, 12) else 1000


@pytest.mark.parametrize("name", FIXED)
def test_fixed_example_passes_2000_random_executions(name: str) -> None:
    result = interleave.explore(body(name, "fixed"), strategy="random", executions=FIXED_EXECUTIONS, seed=0)
    assert result.failure is None, result.failure.report
    assert result.executions == FIXED_EXECUTIONS
    assert not result.exhausted
    # A random search that found nothing must not read as a proof.
    assert result.verdict.startswith("budget spent") and "not a proof" in result.verdict


def test_deadlocking_transfers_are_reported_as_a_deadlock_naming_both_threads() -> None:
    result = interleave.explore(body("bank_transfer", "deadlocking"), strategy="random", executions=500, seed=0)
    failure = result.failure
    assert failure is not None, result.verdict
    assert failure.kind == "deadlock"
    blocked = {b.thread: b for b in failure.blocked}
    assert {"alice->bob", "bob->alice"} <= set(blocked), failure.report
    # Each transfer waits for a lock that the other one holds.
    assert blocked["alice->bob"].holder == "bob->alice", failure.report
    assert blocked["bob->alice"].holder == "alice->bob", failure.report
    assert "alice->bob" in failure.report and "bob->alice" in failure.report
    assert "Deadlock" in failure.report


def test_lost_update_script_prints_the_report_and_exits_0() -> None:
    """The README's quick start: `python examples/lost_update.py`."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "lost_update.py")], capture_output=True,
                          text=True, timeout=240, cwd=str(EXAMPLES.parent), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith("FAILED"), out
    assert "AssertionError: expected 2 increments, counter is 1" in out
    assert "Replay token: " in out and "interleave.replay(buggy, " in out
    assert "budget spent: no failure in 2000 executions" in out


# Shallow bugs: one preemption at the right place. Every search strategy finds them within a few
# thousand executions; deep_counter and reorder are measured in benchmarks/bench_strategies.py
# instead, since not every strategy is meant to find them.
SHALLOW = [case for case in BUGGY if case[0] not in ("deep_counter", "reorder")]
# Systematic (bounded) strategies enumerate schedules depth first. On the singleton, queue and
# executor programs the main thread and the standard library's synchronisation give them
# thousands of schedules to go through before the racy one (seconds each; measured in
# docs/benchmarks.md), so here they get the programs whose schedule space is small.
SYSTEMATIC_PROGRAMS = {"lost_update", "bank_transfer"}


def _is_bounded(strategy: str) -> bool:
    return bool(registry.make(strategy, 0, **STRATEGY_PARAMS.get(strategy, {})).bounded)


@pytest.mark.parametrize("strategy", PLANNED_STRATEGIES)
@pytest.mark.parametrize("case", SHALLOW, ids=_ids)
def test_registered_strategies_find_the_shallow_bugs(strategy: str, case: tuple,
                                                     request: pytest.FixtureRequest) -> None:
    _require(strategy)
    name, function, _, kind, exc_type, texts = case
    if _is_bounded(strategy) and name not in SYSTEMATIC_PROGRAMS:
        pytest.skip(f"{strategy} is systematic; {name} is measured in benchmarks/bench_strategies.py")
    # shrink=False: this is about finding the bug; shrinking (seconds on the executor example)
    # is exercised by test_random_finds_each_buggy_example.
    result = interleave.explore(body(name, function), strategy=strategy, executions=5000, seed=0, shrink=False,
                                **STRATEGY_PARAMS.get(strategy, {}))
    _check_failure(result, kind, exc_type, texts)


def test_pct_finds_the_reorder_bug_in_a_median_under_200_executions() -> None:
    _require("pct")
    fn = body("reorder", "buggy")
    counts = []
    for seed in range(10):
        result = interleave.explore(fn, strategy="pct", executions=2000, seed=seed, shrink=False)
        _check_failure(result, "exception", AssertionError, ("published without a changelog",))
        counts.append(result.executions)
    assert statistics.median(counts) < 200, counts


def test_portfolio_reaches_the_deep_bug() -> None:
    """The default strategy must be able to reach the one schedule that ends the counter at 2.

    Issue 3 wants the deep bug to "fall quickly" (comparable tools find it in at most 1 of 3
    seeds within 2,000 executions). How quickly is a moving target while the portfolio's mix is
    being tuned, so it is measured in benchmarks/bench_strategies.py (docs/benchmarks.md); this
    only pins that one of three seeds gets there within 2,000 executions.
    """
    _require("portfolio")
    fn = body("deep_counter", "buggy")
    found = []
    for seed in range(3):
        result = interleave.explore(fn, strategy="portfolio", executions=2000, seed=seed, shrink=False)
        if result.failure is not None:
            _check_failure(result, "exception", AssertionError, ("the counter ended at 2",))
            found.append(seed)
            break
    assert found, "the portfolio did not find the deep bug with seeds 0-2 within 2,000 executions"


# (example, preemption bound): bounds under which exhaustive finishes in about a second on 3.12.
# The bank's proof (1,714 schedules) costs 3-4 s under settrace, so below 3.12 it is left out to
# keep this file under a minute per Python version.
PROOFS = [("lost_update", 2), ("lazy_singleton", 1)]
if sys.version_info >= (3, 12):
    PROOFS.append(("bank_transfer", 1))


@pytest.mark.parametrize("name, bound", PROOFS, ids=[f"{n}-{b}" for n, b in PROOFS])
def test_exhaustive_proves_fixed_examples_within_a_preemption_bound(name: str, bound: int) -> None:
    """No failure (and for the bank, no deadlock) in any schedule with <= bound preemptions."""
    _require("exhaustive")
    result = interleave.explore(body(name, "fixed"), strategy="exhaustive", preemptions=bound, executions=100_000)
    assert result.failure is None, result.failure.report
    assert result.exhausted, result.verdict
    assert result.executions < 100_000
    assert f"{bound} preemption" in result.verdict
