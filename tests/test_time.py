"""Virtual time inside a run: sleeps cost nothing, clocks read the execution's own clock."""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from typing import List, Set, Tuple

import pytest
from guarantee_programs import ping_pong
from runtime_helpers import CORRECT_RUNS, assert_finds, assert_passes

import interleave
from interleave.strategies import registry
from interleave.sync import vtime


def test_hour_long_sleep_chain_runs_on_the_virtual_clock() -> None:
    readings: List[Tuple[float, float, float, float]] = []

    def body() -> None:
        m0, w0, p0 = time.monotonic(), time.time(), time.perf_counter()
        for _ in range(60):
            time.sleep(60.0)  # one virtual hour in total
        readings.append((time.monotonic() - m0, time.time() - w0, time.perf_counter() - p0, w0))

    assert_passes(body, executions=20)
    assert len(readings) == 20
    for mono, wall, perf, _start in readings:
        assert mono == pytest.approx(3600.0)
        assert wall == pytest.approx(3600.0)
        assert perf == pytest.approx(3600.0)
    # every execution starts from the same virtual instant
    assert len({r[3] for r in readings}) == 1


def test_ns_clocks_agree_with_float_clocks() -> None:
    def body() -> None:
        t0 = time.monotonic_ns()
        p0 = time.perf_counter_ns()
        w0 = time.time_ns()
        time.sleep(1.5)
        assert time.monotonic_ns() - t0 == 1_500_000_000
        assert time.perf_counter_ns() - p0 == 1_500_000_000
        assert time.time_ns() - w0 == 1_500_000_000
        assert abs(time.time() * 1e9 - time.time_ns()) < 1e3

    assert_passes(body, executions=20)


def test_clock_is_shared_and_monotonic_across_threads() -> None:
    def body() -> None:
        spans: List[Tuple[float, float, float]] = []
        lock = threading.Lock()

        def sleeper(seconds: float) -> None:
            start = time.monotonic()
            time.sleep(seconds)
            end = time.monotonic()
            with lock:
                spans.append((start, seconds, end))

        t0 = time.monotonic()
        ts = [threading.Thread(target=sleeper, args=(s,)) for s in (3.0, 1.0, 2.0)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        # nobody wakes before its deadline (a thread may start sleeping late: it may be slow)
        assert len(spans) == 3
        for start, seconds, end in spans:
            assert start >= t0 and end - start >= seconds - 1e-9
        assert time.monotonic() - t0 >= 3.0 - 1e-9

    assert_passes(body)


def test_sleep_ordering_assumption_found() -> None:
    """Sleeping is not synchronisation: a sleeper is not guaranteed to run after the other."""

    def body() -> None:
        order: List[str] = []

        def slow() -> None:
            time.sleep(1.0)
            order.append("slow")

        def fast() -> None:
            order.append("fast")

        ts = [threading.Thread(target=slow), threading.Thread(target=fast)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert order == ["fast", "slow"]

    assert_finds(body)


def test_equal_deadlines_are_explored_in_both_orders() -> None:
    orders: Set[Tuple[str, ...]] = set()

    def body() -> None:
        order: List[str] = []

        def sleeper(name: str) -> None:
            time.sleep(5.0)
            order.append(name)

        ts = [threading.Thread(target=sleeper, args=(n,)) for n in "ab"]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        orders.add(tuple(order))

    assert_passes(body, executions=300)
    assert orders == {("a", "b"), ("b", "a")}


def test_negative_sleep_raises() -> None:
    def body() -> None:
        with pytest.raises(ValueError):
            time.sleep(-1)

    assert_passes(body, executions=5)


STRATEGIES = [name for name in registry.names() if name in ("random", "pct", "pos", "exhaustive", "portfolio")]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_spin_waits_terminate_under_every_strategy(strategy: str) -> None:
    def body() -> None:
        class Flag:
            ready = False
            acked = False

        flag = Flag()

        def waiter() -> None:
            while not flag.ready:
                time.sleep(0)
            flag.acked = True

        t = threading.Thread(target=waiter)
        t.start()
        flag.ready = True
        while not flag.acked:
            pass
        t.join()

    assert_passes(body, executions=200, strategy=strategy)


def test_spin_wait_with_pass_terminates() -> None:
    def body() -> None:
        class Flag:
            ready = False

        flag = Flag()

        def setter() -> None:
            flag.ready = True

        t = threading.Thread(target=setter)
        t.start()
        while not flag.ready:
            pass
        t.join()

    result = assert_passes(body, executions=CORRECT_RUNS)
    assert result.failure is None


def test_spin_wait_with_sleep_zero_terminates() -> None:
    def body() -> None:
        class Flag:
            ready = False

        flag = Flag()

        def waiter() -> None:
            while not flag.ready:
                time.sleep(0)

        t = threading.Thread(target=waiter)
        t.start()
        flag.ready = True
        t.join()

    assert_passes(body, executions=CORRECT_RUNS)


def test_spin_wait_on_both_sides_terminates() -> None:
    """Two threads handing a token back and forth by spinning: fairness keeps it moving."""
    # 120 executions take the default portfolio through every member's slots (DPOR's opening,
    # uniform, PCT and POS); each member's spin-waits are covered one by one in test_fairness.
    assert_passes(ping_pong, executions=120)


def test_time_is_real_again_after_the_run() -> None:
    def body() -> None:
        time.sleep(3600)

    before = (time.sleep, time.monotonic, time.time, time.perf_counter)
    assert_passes(body, executions=3)
    assert (time.sleep, time.monotonic, time.time, time.perf_counter) == before
    a = time.monotonic()
    time.sleep(0.001)
    assert time.monotonic() > a
    assert abs(time.time() - time.time_ns() / 1e9) < 1.0


ALL_STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_a_poll_until_a_deadline_ends_under_every_strategy(strategy: str, backend: str) -> None:
    """Reading the clock in a loop, alone, until a deadline: time moves on by ticks, the loop ends.

    In frozen virtual time it spun until the stall watchdog gave up (StalledRunError): the
    standard library does it in ``as_completed`` once its timeout has run out.
    """
    polls: List[int] = []

    def body() -> None:
        go = threading.Event()
        t = threading.Thread(target=go.wait)  # blocked without a deadline: nothing moves time
        t.start()
        deadline = time.monotonic() + 0.001
        n = 0
        while time.monotonic() < deadline:
            n += 1
        polls.append(n)
        go.set()
        t.join()

    assert_passes(body, executions=10, strategy=strategy, backend=backend, stall_timeout=30)
    assert polls and all(vtime.POLL_READS <= n <= vtime.POLL_READS + 0.001 / vtime.TICK + 1 for n in polls), polls


@pytest.mark.parametrize("strategy", ["random", "portfolio", "dpor"])
def test_as_completed_whose_timeout_runs_out_reports_the_timeout(strategy: str) -> None:
    """A schedule that lets as_completed's timeout run out ends with its TimeoutError, never a stall."""

    def body() -> None:
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(pow, 2, i) for i in range(2)]
            assert sorted(f.result() for f in cf.as_completed(futures, timeout=100)) == [1, 2]

    r = interleave.explore(body, executions=300, seed=1, strategy=strategy, stall_timeout=30)
    if strategy != "random":  # DPOR explores the timeout firing at once; random may not draw it
        assert r.failure is not None
    assert r.failure is None or isinstance(r.failure.exception, cf.TimeoutError), r.failure


def test_clock_reads_stand_still_until_a_thread_polls_and_its_sleeps_count_from_its_clock() -> None:
    seen: List[Tuple[int, int, int, bool]] = []

    def body() -> None:
        few = {time.monotonic() for _ in range(vtime.POLL_READS)}  # time stands still
        polled = [time.monotonic_ns() for _ in range(10)]  # then each read is a tick later
        start = time.monotonic_ns()
        time.sleep(1.5)
        after = time.monotonic_ns()
        ticks = {b - a for a, b in zip(polled, polled[1:])}
        seen.append((len(few), after - start, len(ticks), polled[0] > int(1e9 * min(few))))
        assert ticks == {int(vtime.TICK * 1e9)} or max(ticks) - min(ticks) <= 1, ticks

    assert_passes(body, executions=3)
    # nothing moved for POLL_READS reads; then each read moves a tick; a sleep lasts exactly its length
    assert seen and all(s == (1, 1_500_000_000, s[2], True) for s in seen), seen


@pytest.mark.parametrize("polls", [True, False])
def test_a_step_limit_in_a_loop_that_polls_the_clock_says_so(polls: bool) -> None:
    def body() -> None:
        go = threading.Event()
        t = threading.Thread(target=go.wait)
        t.start()
        end = time.monotonic() + 60  # a virtual minute: about 63 million polls
        n = 0
        while (time.monotonic() if polls else n) < end:
            n += 0
        go.set()
        t.join()

    r = interleave.explore(body, executions=1, max_steps=2_000, stall_timeout=30)
    assert r.failure is not None and r.failure.kind == "step-limit"
    assert ("MainThread was reading the clock in its loop" in r.failure.report) == polls, r.failure.report
