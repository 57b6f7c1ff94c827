"""A call's result is what it returned, as it was then: later calls that mutate it do not change it.

A locked class whose reader returns its own list (``return self._items``) is linearizable: the
caller saw the list as it was when the call returned. Recorded by reference, the list would show
the appends that came after, and lincheck would call a correct class not linearizable.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Dict, List

import pytest
from hypothesis import strategies as st

from interleave import lincheck
from interleave.lincheck.history import as_returned

pytestmark = pytest.mark.timeout(120)


class SharedBag:
    """Locked; ``snapshot`` hands out the internal containers themselves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: List[int] = []
        self._by_key: Dict[int, List[int]] = {}

    def add(self, x: int) -> None:
        with self._lock:
            self._items.append(x)
            self._by_key.setdefault(x % 2, []).append(x)

    def snapshot(self) -> List[int]:
        with self._lock:
            return self._items

    def groups(self) -> Dict[int, List[int]]:
        with self._lock:
            return self._by_key


class RacyBag(SharedBag):
    """The same bag, whose add rebuilds the list without the lock: an add can be lost."""

    def add(self, x: int) -> None:
        items = self._items
        self._items = items + [x]


# Called by name, so that each class's own method runs.
OPS = [lincheck.op(lambda bag, x: bag.add(x), st.integers(0, 3), name="add"),
       lincheck.op(lambda bag: bag.snapshot(), name="snapshot"),
       lincheck.op(lambda bag: bag.groups(), name="groups")]


@pytest.mark.parametrize("strategy", ["random", "dpor"])
def test_a_locked_class_returning_its_own_containers_is_linearizable(strategy: str) -> None:
    r = lincheck.check(SharedBag, OPS, threads=2, ops_per_thread=2, scenarios=30, executions=50, seed=0,
                       strategy=strategy)
    assert r.failure is None, r.failure.report


def test_a_lost_add_is_still_found() -> None:
    r = lincheck.check(RacyBag, OPS[:2], threads=2, ops_per_thread=2, scenarios=50, executions=100, seed=0,
                       post=lambda b: sorted(b.snapshot()), spec=SharedBag)
    assert r.failure is not None and r.failure.kind == "not-linearizable", r.verdict


def test_results_are_copied_at_any_depth_and_other_objects_are_kept() -> None:
    class Opaque:
        pass

    marker = Opaque()
    inner = [1, 2]
    value: Any = {"a": inner, "b": (inner, collections.deque([inner], maxlen=3)), "c": {3}, "o": marker}
    value["self"] = value  # a cycle: copied once, not forever
    got = as_returned(value)
    inner.append(99)
    value["c"].add(4)
    assert got["a"] == [1, 2] and got["b"][0] == [1, 2] and list(got["b"][1]) == [[1, 2]]
    assert got["b"][1].maxlen == 3 and got["c"] == {3}
    assert got["a"] is got["b"][0]  # shared structure stays shared
    assert got["self"] is got and got["o"] is marker
