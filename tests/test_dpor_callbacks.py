"""DPOR when code the harness does not follow calls code under test back (issue 13, audit f31,
f47, f48).

``min(d, key=f)``, ``lst.sort(key=f)``, a ``defaultdict`` factory, ``functools.cached_property``:
an operation of C code or of excluded Python is in progress while the function it called back
runs, and the operation touches its data after the callback too. DPOR put the operation's
accesses at its call point only, so it never put another thread's conflicting access inside the
callback and claimed "exhausted: no failure" where exhaustive search fails.
"""

from __future__ import annotations

import collections
import copy
import functools
import threading
from typing import Any, Callable, Dict, List

import dpor_callback_helper as helper
import pytest

import interleave
from interleave.versions import PY

BACKENDS = ["settrace"] + (["monitoring"] if PY >= (3, 12) else [])
BUDGET = 20_000


def run_pair(a: Callable[[], Any], b: Callable[[], Any]) -> None:
    """Run two functions as threads and wait for both."""
    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def ident(x: Any) -> Any:
    """A callback with a switch point that touches nothing of its own."""
    y = x + 0
    return y


def add(x: int, y: int) -> int:
    """A reducer with a switch point that touches nothing of its own."""
    z = x + y
    return z


def neg_len(k: Any) -> int:
    """A key function (a call: a switch point inside the key)."""
    return -len(str(k))


def min_over_a_changing_dict() -> None:
    d = {1: 1, 2: 2}
    errors: List[str] = []

    def reader() -> None:
        try:
            min(d, key=neg_len)
        except RuntimeError as e:  # dictionary changed size during iteration
            errors.append(str(e))

    def writer() -> None:
        d[3] = 3

    run_pair(reader, writer)
    assert not errors, errors


def sort_of_a_changing_list() -> None:
    lst = [3, 1, 2]
    errors: List[str] = []

    def sorter() -> None:
        try:
            lst.sort(key=neg_len)
        except ValueError as e:  # list modified during sort
            errors.append(str(e))

    def appender() -> None:
        lst.append(0)

    run_pair(sorter, appender)
    assert not errors, errors


def defaultdict_factory_under_test() -> None:
    made: List[int] = []

    def factory() -> List[int]:
        made.append(1)  # a point inside the subscript, before it stores the new list
        return []

    d: Dict[str, List[int]] = collections.defaultdict(factory)

    def w(i: int) -> None:
        d["x"].append(i)

    run_pair(lambda: w(0), lambda: w(1))
    assert sorted(d["x"]) == [0, 1], d["x"]


def list_of_a_map() -> None:
    xs = [1, 2, 3]
    out: List[int] = []
    run_pair(lambda: out.extend(list(map(ident, xs))), lambda: xs.pop(0))
    # Before or after the pop; during it, the iteration skips an element.
    assert out in ([1, 2, 3], [2, 3]), out


def list_of_a_filter() -> None:
    xs = [1, 2, 3]
    out: List[int] = []
    run_pair(lambda: out.extend(list(filter(ident, xs))), lambda: xs.pop(0))
    assert out in ([1, 2, 3], [2, 3]), out


def reduce_of_a_changing_list() -> None:
    xs = [1, 2, 3]
    out: List[int] = []
    run_pair(lambda: out.append(functools.reduce(add, xs)), lambda: xs.pop(0))
    assert out in ([6], [5]), out


class Copied:
    """``__deepcopy__`` is code under test, called back by copy.deepcopy (excluded Python)."""

    def __init__(self, v: int) -> None:
        self.v = v

    def __deepcopy__(self, memo: Any) -> Copied:
        v = self.v + 0
        return Copied(v)


def deepcopy_of_a_changing_list() -> None:
    xs = [Copied(1), Copied(2), Copied(3)]
    out: List[List[int]] = []
    run_pair(lambda: out.append([c.v for c in copy.deepcopy(xs)]), lambda: xs.pop(0))
    assert out in ([[1, 2, 3]], [[2, 3]]), out


def computed_once(decorate: Callable[[Any], Any], name: str) -> Callable[[], None]:
    """Two threads read a caching descriptor's value: it must be computed once."""
    def body() -> None:
        calls: List[int] = []

        class C:
            @decorate
            def val(self) -> int:
                calls.append(1)
                return len(calls)

        c = C()

        def a() -> None:
            c.val  # noqa: B018 - the read runs the descriptor

        run_pair(a, a)
        assert len(calls) == 1, f"computed {len(calls)} times"

    body.__name__ = name
    return body


excluded_memoizing_descriptor = computed_once(helper.memoized, "excluded_memoizing_descriptor")


def excluded_data_descriptor() -> None:
    class C:
        reads = 0

        @helper.counted
        def val(self) -> int:
            n = self.reads + 0
            return n

    c = C()
    run_pair(lambda: c.val, lambda: c.val)
    assert c.reads == 2, c.reads  # the descriptor's read-modify-write of ``reads`` races


BODIES = [min_over_a_changing_dict, sort_of_a_changing_list, defaultdict_factory_under_test, list_of_a_map,
          list_of_a_filter, reduce_of_a_changing_list, deepcopy_of_a_changing_list,
          excluded_memoizing_descriptor, excluded_data_descriptor]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["dpor", "exhaustive"])
@pytest.mark.parametrize("body", BODIES, ids=lambda f: f.__name__)
def test_a_conflict_inside_a_callback_is_found(body: Callable[[], None], strategy: str, backend: str) -> None:
    r = interleave.explore(body, strategy=strategy, executions=BUDGET, backend=backend, shrink=False,
                           exclude=["dpor_callback_helper"])
    assert r.failure is not None, f"{strategy} missed it: {r.executions} executions, exhausted={r.exhausted}"


cached_property_computed_twice = computed_once(functools.cached_property, "cached_property_computed_twice")


@pytest.mark.skipif(PY < (3, 12), reason="before 3.12 cached_property computes under a lock")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["dpor", "exhaustive"])
def test_cached_property_computed_by_two_threads_is_found(strategy: str, backend: str) -> None:
    r = interleave.explore(cached_property_computed_twice, strategy=strategy, executions=BUDGET, backend=backend,
                           shrink=False)
    assert r.failure is not None, f"{strategy} missed it: {r.executions} executions, exhausted={r.exhausted}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_callbacks_on_data_no_one_else_touches_stay_one_class(backend: str) -> None:
    """What a call in progress touches costs events, not classes, when no other thread touches it."""
    def body() -> None:
        def worker() -> None:
            own = [3, 1, 2]
            own.sort(key=ident)
            assert own == [1, 2, 3]
            assert max(map(ident, own)) == 3

        run_pair(worker, worker)

    r = interleave.explore(body, strategy="dpor", executions=100, backend=backend)
    assert r.exhausted and r.failure is None, r.verdict
    assert r.strategy_stats["classes"] == 1, r.strategy_stats
