"""Garbage is collected between executions on the automatic collector's schedule, oldest generation included."""

from __future__ import annotations

import gc
import threading
from typing import Any, List

import interleave

_kept: List[Any] = []


def _full_collections() -> int:
    return gc.get_stats()[2]["collections"]


def _cycles() -> None:
    # Garbage only the collector frees: enough of it that every execution is over the youngest
    # generation's threshold.
    for _ in range(gc.get_threshold()[0] + 100):
        a: List[Any] = []
        a.append(a)


def _body(extra: Any) -> None:
    t = threading.Thread(target=extra)
    t.start()
    t.join()


def test_a_large_heap_that_does_not_grow_gets_no_full_collection() -> None:
    """Young cycles are freed, and a full collection (costly in a large process) is not made every
    hundred executions: only once the oldest generation has grown by a quarter."""
    ballast = [[] for _ in range(200_000)]  # a large process: pytest's and this suite's objects too
    gc.collect()
    before = _full_collections()
    young_before = gc.get_stats()[0]["collections"]
    try:
        result = interleave.explore(lambda: _body(_cycles), strategy="random", executions=300, seed=1)
    finally:
        del ballast
    assert result.executions == 300
    assert gc.get_stats()[0]["collections"] - young_before >= 200  # the cycles were collected
    assert _full_collections() == before


def test_the_oldest_generation_is_collected_once_it_has_grown_by_a_quarter() -> None:
    """Objects that outlive their execution and then die in the oldest generation are still freed."""
    gc.collect()
    share = max(1_000, len(gc.get_objects(2)) // 100)

    def grow() -> None:
        _kept.append([[] for _ in range(share)])
        _cycles()

    before = _full_collections()
    try:
        interleave.explore(lambda: _body(grow), strategy="random", executions=300, seed=1)
    finally:
        _kept.clear()
    assert _full_collections() > before
