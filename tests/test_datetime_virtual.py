"""``datetime.datetime.now()`` and ``utcnow()`` read the run's virtual clock, as ``time.time()`` does."""

from __future__ import annotations

import datetime
import sys
import threading
import time
import warnings
from datetime import datetime as bound_datetime  # bound at import: the type itself
from datetime import timedelta
from typing import Any, Callable, List, Optional

import pytest

import interleave
from interleave.strategies.random_walk import RandomStrategy

STRATEGIES = ["random", "pct", "exhaustive", "dpor", "portfolio"]
BACKENDS = ["auto"] + (["settrace"] if sys.version_info >= (3, 12) else [])


def _sleeps_then_reads_the_wall_clock() -> None:
    d0 = bound_datetime.now()
    u0 = datetime.datetime.now(datetime.timezone.utc)
    t = threading.Thread(target=time.sleep, args=(0.25,))
    t.start()
    t.join()
    time.sleep(1)
    assert bound_datetime.now() - d0 >= timedelta(seconds=1.25), (d0, bound_datetime.now())
    assert datetime.datetime.now(datetime.timezone.utc) - u0 >= timedelta(seconds=1.25)
    # One clock: the aware now() is time.time(), and today() (which reads time.time()) agrees.
    assert datetime.datetime.now(datetime.timezone.utc).timestamp() == time.time()
    assert abs(datetime.datetime.today() - bound_datetime.now()) < timedelta(seconds=1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_now_moves_with_virtual_time(strategy: str, backend: str) -> None:
    """A sleep moved ``time.time()`` but not ``datetime.now()``: code that mixed the two failed."""
    before = dict(datetime.datetime.__dict__)
    r = interleave.explore(_sleeps_then_reads_the_wall_clock, strategy=strategy, executions=30, seed=3,
                           backend=backend)
    assert r.failure is None, r.failure.report if r.failure else ""
    after = datetime.datetime.__dict__
    assert all(after[k] is v for k, v in before.items())
    # Outside the run: the real clock again.
    assert abs(bound_datetime.now().timestamp() - time.time()) < 60


def test_utcnow_is_virtual_and_warns_as_the_real_one_does() -> None:
    def body() -> None:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            u0 = datetime.datetime.utcnow()
            time.sleep(2)
            elapsed = datetime.datetime.utcnow() - u0
        assert elapsed >= timedelta(seconds=2), elapsed
        assert u0.tzinfo is None
        with warnings.catch_warnings(record=True) as real:
            warnings.simplefilter("always")
            getattr(datetime.datetime, "utcnow")  # noqa: B009 - the lookup alone warns nowhere
        deprecated = [w for w in seen if issubclass(w.category, DeprecationWarning)]
        assert len(deprecated) == (2 if sys.version_info >= (3, 12) else 0), [str(w.message) for w in seen]
        assert all(w.filename == __file__ for w in deprecated) and not real

    r = interleave.explore(body, strategy="random", executions=5)
    assert r.failure is None, r.failure.report if r.failure else ""


class _ReadsTheClockBetweenExecutions(RandomStrategy):
    """A strategy runs on the exploring OS thread, outside any virtual thread, while the type is patched."""

    seen: List[Any] = []

    def new_execution(self) -> bool:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.seen.append((datetime.datetime.utcnow(), [w.filename for w in caught]))
        return super().new_execution()


def test_outside_a_virtual_thread_utcnow_is_real_and_warns_at_its_caller() -> None:
    strategy = _ReadsTheClockBetweenExecutions(1)
    interleave.explore(lambda: time.sleep(5), strategy=strategy, executions=3)
    assert len(strategy.seen) == 3
    for value, filenames in strategy.seen:
        real = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        assert abs(real - value) < timedelta(seconds=60), value  # the real clock, not 2023
        assert value.tzinfo is None
        assert filenames == ([__file__] if sys.version_info >= (3, 12) else []), filenames


def test_a_subclass_gets_its_own_type_and_naive_and_aware_agree() -> None:
    class Stamp(datetime.datetime):
        pass

    out: List[Any] = []

    def body() -> None:
        time.sleep(10)
        out.append((Stamp.now(), Stamp.now(datetime.timezone.utc)))

    interleave.explore(body, strategy="random", executions=1)
    naive, aware = out[0]
    assert type(naive) is Stamp and type(aware) is Stamp
    assert aware.timestamp() == naive.timestamp()


class Breaker:
    """A circuit breaker on the wall clock: open after a failure, half-open once ``reset`` has passed."""

    def __init__(self, reset: float, lock: Optional[threading.Lock]) -> None:
        self.reset = timedelta(seconds=reset)
        self.opened: Optional[datetime.datetime] = None
        self.lock = lock
        self.trials = 0

    def fail(self) -> None:
        self.opened = bound_datetime.now()

    def try_half_open(self) -> bool:
        """Let exactly one trial call through after the reset timeout."""
        if self.lock is not None:
            with self.lock:
                return self._try()
        return self._try()

    def _try(self) -> bool:
        if self.opened is not None and bound_datetime.now() - self.opened >= self.reset:
            self.opened = None
            self.trials += 1
            return True
        return False


def breaker_program(locked: bool) -> Callable[[], None]:
    def body() -> None:
        b = Breaker(0.5, threading.Lock() if locked else None)
        b.fail()
        time.sleep(1)  # the reset timeout has passed
        ts = [threading.Thread(target=b.try_half_open) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert b.trials == 1, b.trials

    return body


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_wall_clock_breaker_is_correct_locked_and_its_race_is_found_unlocked(strategy: str, backend: str) -> None:
    ok = interleave.explore(breaker_program(locked=True), strategy=strategy, executions=150, seed=1, backend=backend)
    assert ok.failure is None, ok.failure.report if ok.failure else ""
    racy = interleave.explore(breaker_program(locked=False), strategy=strategy, executions=2500, seed=1,
                              backend=backend)
    # Two trials, or a trial that found ``opened`` reset under it between its check and its use.
    assert racy.failure is not None and isinstance(racy.failure.exception, (AssertionError, TypeError))
