"""Clocks kept before the run (bound ``datetime.now``, a closure over ``time.monotonic``) read the run's clock."""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime
from typing import List

import clock_holders
import pytest

import interleave

STRATEGIES = ["random", "pct", "exhaustive", "dpor", "portfolio"]
BACKENDS = ["auto"] + (["settrace"] if sys.version_info >= (3, 12) else [])


def _one_clock() -> None:
    job = clock_holders.Job()  # its default_factory is datetime.now, bound when the class was made
    t = threading.Thread(target=time.sleep, args=(0.5,))
    t.start()
    t.join()
    time.sleep(1)
    assert job.age_seconds() >= 1.5, job.age_seconds()  # it was -3 years: the factory read the real clock
    assert abs(clock_holders._now().timestamp() - time.time()) < 1, clock_holders._now()
    assert abs(clock_holders.stamp().timestamp() - time.time()) < 1, clock_holders.stamp()
    assert clock_holders.read_monotonic() == time.monotonic()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_clocks_kept_before_the_run_read_the_virtual_clock(strategy: str, backend: str) -> None:
    # Not code under test: only the swap of names bound before the run can reach its closures.
    r = interleave.explore(_one_clock, strategy=strategy, executions=20, seed=1, backend=backend,
                           exclude=["clock_holders"])
    assert r.failure is None, r.failure.report if r.failure else ""
    # And after the run, the real ones again.
    assert abs(clock_holders._now().timestamp() - datetime.now().timestamp()) < 60
    assert abs(clock_holders.read_monotonic() - time.monotonic()) < 60


def test_a_clock_kept_between_two_explorations_is_found_by_the_next() -> None:
    made: List[object] = []
    r = interleave.explore(lambda: made.append(time.monotonic()), strategy="random", executions=1)
    assert r.failure is None
    later = clock_holders._make_reader()  # made between the two explorations
    stamp_later = datetime.now  # a bound method kept in a local that outlives the exploration

    def body() -> None:
        assert later() == time.monotonic()
        assert abs(stamp_later().timestamp() - time.time()) < 1

    r = interleave.explore(body, strategy="random", executions=5, exclude=["clock_holders"])
    assert r.failure is None, r.failure.report if r.failure else ""
