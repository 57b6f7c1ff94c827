"""interleave.lincheck: scenarios of a class's operations, explored, checked for linearizability.

Budgets are scenario and execution counts with fixed seeds, never times. Each racy class is
found and each locked twin passes; the racy counter's failure shrinks to two threads with one
call each; tokens replay the scenario and the interleaving; misuse gets one clear error.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import strategies as st

from interleave import lincheck
from interleave.errors import InterleaveFailure, OptionError, TokenError

pytestmark = pytest.mark.timeout(120)


class RacyCounter:
    """increment() is a read-modify-write without a lock; it returns the new value."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> int:
        self.value += 1
        return self.value

    def get(self) -> int:
        return self.value


class LockedCounter(RacyCounter):
    """The same counter with one lock around each operation."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def increment(self) -> int:
        with self._lock:
            self.value += 1
            return self.value

    def get(self) -> int:
        with self._lock:
            return self.value


class RacyRegistry:
    """put_if_absent checks, then acts: two threads can both see the key absent."""

    def __init__(self) -> None:
        self._data: Dict[int, int] = {}

    def put_if_absent(self, key: int, value: int) -> Optional[int]:
        if key not in self._data:
            self._data[key] = value
            return None
        return self._data[key]

    def get(self, key: int) -> Optional[int]:
        return self._data.get(key)


class LockedRegistry(RacyRegistry):
    """The check and the act under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def put_if_absent(self, key: int, value: int) -> Optional[int]:
        with self._lock:
            return super().put_if_absent(key, value)

    def get(self, key: int) -> Optional[int]:
        with self._lock:
            return super().get(key)


class TornQueue:
    """put/get hold the lock; size() reads the two counters without it (a torn read)."""

    def __init__(self) -> None:
        self._items: List[int] = []
        self._puts = 0
        self._gets = 0
        self._lock = threading.Lock()

    def put(self, item: int) -> None:
        with self._lock:
            self._items.append(item)
            self._puts += 1

    def get(self) -> Optional[int]:
        with self._lock:
            if not self._items:
                return None
            self._gets += 1
            return self._items.pop(0)

    def size(self) -> int:
        return self._puts - self._gets


class LockedQueue(TornQueue):
    """size() under the lock too."""

    def size(self) -> int:
        with self._lock:
            return self._puts - self._gets


class SeqQueue:
    """The sequential specification of the queue."""

    def __init__(self) -> None:
        self.items: List[int] = []

    def put(self, item: int) -> None:
        self.items.append(item)

    def get(self) -> Optional[int]:
        return self.items.pop(0) if self.items else None

    def size(self) -> int:
        return len(self.items)


def counter_ops(cls: Any) -> List[lincheck.Operation]:
    return [lincheck.op(cls.increment), lincheck.op(cls.get)]


def registry_ops(cls: Any) -> List[lincheck.Operation]:
    return [lincheck.op(cls.put_if_absent, st.integers(0, 1), st.integers(0, 9)),
            lincheck.op(cls.get, st.integers(0, 1))]


def queue_ops(cls: Any) -> List[lincheck.Operation]:
    return [lincheck.op(cls.put, st.integers(0, 9)), lincheck.op(cls.get), lincheck.op(cls.size)]


def test_racy_counter_is_found_with_a_minimal_scenario() -> None:
    ops = counter_ops(RacyCounter)
    result = lincheck.check(RacyCounter, ops, threads=2, ops_per_thread=3, scenarios=100, executions=200, seed=0)
    f = result.failure
    assert f is not None and f.kind == "not-linearizable"
    # Shrunk to two threads with one increment each, both returning 1.
    assert result.scenario == lincheck.Scenario((), (((0, ()),), ((0, ()),)))
    assert [(r.column, r.result) for r in result.history] == [(0, 1), (1, 1)]
    assert "no sequential order of these calls gives these results" in f.report.lower()
    assert "increment() -> 1 | increment() -> 1" in f.report
    assert "Interleaving (one column per thread):" in f.report  # interleave's own report follows
    assert f.token.startswith("lc1_") and f"Replay token: {f.token}" in f.report
    assert result.verdict.startswith("FAILED: not-linearizable in a scenario of 2 threads x 1 call")
    with pytest.raises(InterleaveFailure) as info:
        result.raise_for_failure()
    assert isinstance(info.value, AssertionError) and "increment() -> 1" in str(info.value)


def test_locked_counter_passes_100_scenarios() -> None:
    result = lincheck.check(LockedCounter, counter_ops(LockedCounter), threads=2, ops_per_thread=3,
                            scenarios=100, executions=5, seed=0)
    assert result.failure is None, result.failure.report
    assert result.scenarios == 100
    assert result.executions == 100 * 5
    assert "every history was linearizable in 100 scenarios" in result.verdict
    result.raise_for_failure()


def test_check_then_act_registry_is_found() -> None:
    result = lincheck.check(RacyRegistry, registry_ops(RacyRegistry), threads=2, ops_per_thread=3,
                            scenarios=100, executions=200, seed=0)
    f = result.failure
    assert f is not None and f.kind == "not-linearizable", result.verdict
    # Both threads put the same key and both were told it was absent.
    puts = [r for r in result.history if r.op == 0]
    assert len(puts) == 2 and [r.result for r in puts] == [None, None]
    assert puts[0].args[0] == puts[1].args[0]
    assert "put_if_absent(0, 0) -> None" in f.report


def test_locked_registry_passes_100_scenarios() -> None:
    result = lincheck.check(LockedRegistry, registry_ops(LockedRegistry), threads=2, ops_per_thread=3,
                            scenarios=100, executions=5, seed=0)
    assert result.failure is None, result.failure.report
    assert result.scenarios == 100


def test_torn_size_of_a_queue_is_found_against_a_sequential_spec() -> None:
    # size() must run between the two reads while the other thread puts and gets: 2 calls per thread.
    result = lincheck.check(TornQueue, queue_ops(TornQueue), threads=2, ops_per_thread=2, spec=SeqQueue,
                            scenarios=100, executions=100, seed=1)
    f = result.failure
    assert f is not None and f.kind == "not-linearizable", result.verdict
    sizes = [r for r in result.history if r.op == 2]
    assert sizes, "the failing scenario calls size()"
    assert "size() ->" in f.report


def test_locked_queue_passes_100_scenarios() -> None:
    result = lincheck.check(LockedQueue, queue_ops(LockedQueue), threads=2, ops_per_thread=3, spec=SeqQueue,
                            scenarios=100, executions=5, seed=0)
    assert result.failure is None, result.failure.report
    assert result.scenarios == 100


def test_token_replays_the_scenario_and_the_interleaving() -> None:
    ops = registry_ops(RacyRegistry)
    result = lincheck.check(RacyRegistry, ops, scenarios=50, executions=200, seed=3)
    assert result.failure is not None
    again = lincheck.replay(RacyRegistry, ops, result.failure.token)
    assert again.failure is not None and again.failure.kind == "not-linearizable"
    assert again.scenario == result.scenario
    assert [(r.column, r.op, r.args, r.result) for r in again.history] == \
        [(r.column, r.op, r.args, r.result) for r in result.history]
    assert again.failure.token == result.failure.token
    # The locked registry under the same scenario and schedule is linearizable (or diverges, never
    # a false failure).
    fixed = lincheck.replay(LockedRegistry, registry_ops(LockedRegistry), result.failure.token)
    assert fixed.failure is None or fixed.failure.kind == "divergence"


def test_token_errors_are_clear() -> None:
    ops = counter_ops(RacyCounter)
    token = lincheck.check(RacyCounter, ops, scenarios=5, executions=50, seed=0).failure.token
    with pytest.raises(TokenError, match="recorded with the operations"):
        lincheck.replay(RacyCounter, [lincheck.op(RacyCounter.get)], token)
    with pytest.raises(TokenError, match="damaged"):
        lincheck.replay(RacyCounter, ops, token[:-6] + "AAAAAA")
    with pytest.raises(TokenError, match="not a lincheck token"):
        lincheck.replay(RacyCounter, ops, "il1_abc")


def test_bad_input_gets_a_clear_error() -> None:
    ops = counter_ops(RacyCounter)
    with pytest.raises(OptionError, match="must be callable"):
        lincheck.op(42)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="argument 1 must be a Hypothesis strategy"):
        lincheck.op(RacyRegistry.get, 1)
    with pytest.raises(OptionError, match="operation 2 is not callable"):
        lincheck.check(RacyCounter, [ops[0], "get"])
    with pytest.raises(OptionError, match="threads must be a whole number >= 1; got 0"):
        lincheck.check(RacyCounter, ops, threads=0)
    with pytest.raises(OptionError, match="ops_per_thread"):
        lincheck.check(RacyCounter, ops, ops_per_thread=0)
    with pytest.raises(OptionError, match=r"spec SeqQueue has no method 'increment'"):
        lincheck.check(RacyCounter, ops, spec=SeqQueue)
    with pytest.raises(OptionError, match="factory must be callable"):
        lincheck.check(RacyCounter(), ops)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="operations is empty"):
        lincheck.check(RacyCounter, [])
    with pytest.raises(OptionError, match="unknown argument"):
        lincheck.check(RacyCounter, ops, executons=5)
    with pytest.raises(OptionError, match="strategy"):
        lincheck.check(RacyCounter, ops, strategy="no-such-strategy", scenarios=1, executions=1)


@pytest.mark.parametrize("strategy", ["exhaustive", "dpor"])
def test_bounded_strategies_give_a_bounded_verdict(strategy: str) -> None:
    locked = lincheck.check(LockedCounter, counter_ops(LockedCounter), threads=2, ops_per_thread=2,
                            scenarios=10, executions=5000, seed=0, strategy=strategy, preemptions=1)
    assert locked.failure is None and locked.exhausted
    assert locked.exhausted_scenarios == locked.scenarios == 10
    assert locked.verdict.startswith("linearizable for all interleavings within bound ≤ 1 preemption")
    racy = lincheck.check(RacyCounter, counter_ops(RacyCounter), threads=2, ops_per_thread=2,
                          scenarios=10, executions=5000, seed=0, strategy=strategy, preemptions=1)
    assert racy.failure is not None and racy.failure.kind == "not-linearizable"


@pytest.mark.parametrize("strategy", ["random", "pct", "pos", "hypothesis"])
def test_every_sampling_strategy_finds_the_racy_counter(strategy: str) -> None:
    racy = lincheck.check(RacyCounter, counter_ops(RacyCounter), scenarios=10, executions=300, seed=0,
                          strategy=strategy)
    assert racy.failure is not None and racy.failure.kind == "not-linearizable", racy.verdict
    assert racy.scenario is not None and racy.scenario.shape == "2 threads x 1 call"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="settrace is the only back-end below 3.12")
def test_settrace_backend() -> None:
    racy = lincheck.check(RacyCounter, counter_ops(RacyCounter), scenarios=10, executions=200, seed=0,
                          backend="settrace")
    assert racy.failure is not None and racy.failure.kind == "not-linearizable"
    locked = lincheck.check(LockedCounter, counter_ops(LockedCounter), scenarios=20, executions=10, seed=0,
                            backend="settrace")
    assert locked.failure is None


class SilentCounter:
    """increment() returns nothing: only the final state can show a lost update."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1


def test_post_hook_compares_the_final_state() -> None:
    ops = [lincheck.op(SilentCounter.increment)]
    blind = lincheck.check(SilentCounter, ops, scenarios=10, executions=100, seed=0)
    assert blind.failure is None  # every call returns None: nothing to contradict
    seen = lincheck.check(SilentCounter, ops, scenarios=10, executions=100, seed=0,
                          post=lambda c: c.value)
    assert seen.failure is not None and seen.failure.kind == "not-linearizable"
    assert "post (after the threads end): post=<lambda>(obj) -> 1" in seen.failure.report


class RacyStack:
    """pop() reads the top, then deletes it: two pops can return the same item."""

    def __init__(self) -> None:
        self.items: List[int] = []

    def push(self, item: int) -> None:
        self.items.append(item)

    def pop(self) -> Optional[int]:
        if not self.items:
            return None
        top = self.items[-1]
        del self.items[-1]
        return top


def test_init_calls_run_before_the_threads() -> None:
    # One call per thread: two pops need something pushed before the threads start.
    ops = [lincheck.op(RacyStack.pop), lincheck.op(RacyStack.push, st.integers(0, 3))]
    without = lincheck.check(RacyStack, ops, threads=2, ops_per_thread=1, scenarios=10, executions=50, seed=0)
    assert without.failure is None
    result = lincheck.check(RacyStack, ops, threads=2, ops_per_thread=1, init=2, scenarios=50,
                            executions=50, seed=1)
    f = result.failure
    assert f is not None, result.verdict
    assert result.scenario is not None and result.scenario.init
    assert "init (before the threads start): push(0) -> None" in f.report


class Inverted:
    """Two operations take two locks in opposite orders."""

    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()

    def ab(self) -> None:
        with self.a:
            with self.b:
                pass

    def ba(self) -> None:
        with self.b:
            with self.a:
                pass


def test_a_deadlock_is_reported_with_the_scenario() -> None:
    result = lincheck.check(Inverted, [lincheck.op(Inverted.ab), lincheck.op(Inverted.ba)],
                            scenarios=20, executions=200, seed=0)
    f = result.failure
    assert f is not None and f.kind == "deadlock", result.verdict
    assert "did not return" in f.report and "Deadlock" in f.report
    assert f.token.startswith("lc1_")


class Strict:
    """get() raises KeyError for a missing key, like the spec."""

    def __init__(self) -> None:
        self.d: Dict[int, int] = {}
        self._lock = threading.Lock()

    def put(self, k: int) -> None:
        with self._lock:
            self.d[k] = k

    def get(self, k: int) -> int:
        with self._lock:
            return self.d[k]


class StrictSpec:
    def __init__(self) -> None:
        self.d: Dict[int, int] = {}

    def put(self, k: int) -> None:
        self.d[k] = k

    def get(self, k: int) -> int:
        return self.d[k]


class WrongErrorSpec(StrictSpec):
    def get(self, k: int) -> int:
        if k not in self.d:
            raise LookupError(k)
        return self.d[k]


def test_exceptions_are_results_compared_by_type() -> None:
    ops = [lincheck.op(Strict.put, st.integers(0, 1)), lincheck.op(Strict.get, st.integers(0, 1))]
    ok = lincheck.check(Strict, ops, spec=StrictSpec, scenarios=30, executions=20, seed=0)
    assert ok.failure is None
    wrong = lincheck.check(Strict, ops, spec=WrongErrorSpec, scenarios=30, executions=20, seed=0)
    assert wrong.failure is not None and wrong.failure.kind == "not-linearizable"
    assert "raises KeyError" in wrong.failure.report


def test_same_seed_same_answer() -> None:
    ops = registry_ops(RacyRegistry)
    a = lincheck.check(RacyRegistry, ops, scenarios=50, executions=100, seed=7)
    b = lincheck.check(RacyRegistry, ops, scenarios=50, executions=100, seed=7)
    assert a.failure is not None and b.failure is not None
    assert a.failure.token == b.failure.token and a.scenarios == b.scenarios


def test_report_order_table_sentence_interleaving() -> None:
    result = lincheck.check(RacyCounter, counter_ops(RacyCounter), scenarios=5, executions=100, seed=0)
    report = result.failure.report
    table = report.index("Scenario (one column per thread")
    sentence = report.index("No sequential order of these calls gives these results.")
    interleaving = report.index("Interleaving (one column per thread):")
    token = report.index("Replay token: lc1_")
    assert table < sentence < interleaving < token
    assert "Reproduce:    interleave.lincheck.replay(RacyCounter, <the same operations>, 'lc1_" in report
    assert "il1_" not in report  # the interleave token travels inside the lincheck token only
    assert "Traceback" not in report and "_main_body" not in report  # the check's own frames are noise


def test_pytest_fixture_options_reach_the_check(interleave: Any) -> None:
    options = interleave.options(executions=3)
    assert options["seed"] == interleave.seed  # derived from this test's node id
    result = lincheck.check(LockedCounter, counter_ops(LockedCounter), scenarios=4, **options)
    assert result.seed == interleave.seed
    assert result.executions == 4 * 3 and result.failure is None


def test_the_example_finds_the_registry_race() -> None:
    from example_loader import example

    result = example("lincheck_registry").buggy()
    assert result.failure is not None and result.failure.kind == "not-linearizable"
    assert result.scenario is not None and result.scenario.shape == "2 threads x 1 call"


def test_time_budget_bounds_the_whole_check() -> None:
    # A million executions per scenario cannot be the limit: the budget's share per scenario is.
    result = lincheck.check(LockedCounter, counter_ops(LockedCounter), scenarios=1000, executions=10**6,
                            seed=0, time_budget=0.5)
    assert result.failure is None and result.stop_reason == "time"
    assert "time budget" in result.verdict and "not a proof" in result.verdict
    assert result.executions < 10**6
