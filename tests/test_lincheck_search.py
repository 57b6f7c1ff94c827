"""The linearizability search on hand-written histories (no threads, no exploration)."""

from __future__ import annotations

import threading
from typing import Any, List, Tuple

import pytest
from hypothesis import strategies as st

from interleave import lincheck
from interleave.lincheck.history import INIT, POST, CallRecord, Raised
from interleave.lincheck.search import Model, fingerprint, linearizable


class Register:
    def __init__(self) -> None:
        self.value = 0

    def write(self, v: int) -> None:
        self.value = v

    def read(self) -> int:
        return self.value


class LockedRegister(Register):
    """Holds a lock, so it cannot be deep-copied: the search re-runs prefixes instead."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


OPS = [lincheck.op(Register.write, st.integers()), lincheck.op(Register.read)]  # args come from the records
WRITE, READ = 0, 1


def rec(column: int, op: int, args: Tuple[Any, ...], result: Any, start: int, end: int) -> CallRecord:
    return CallRecord(column, op, args, result, start, end)


def model(spec: Any = Register, post: Any = None) -> Model:
    return Model(spec, OPS, by_name=True, post=post)


@pytest.mark.parametrize("spec", [Register, LockedRegister])
def test_real_time_order_decides(spec: Any) -> None:
    # write(1) overlaps read() -> 0: the read may come first.
    overlapping = [rec(0, WRITE, (1,), None, 0, 3), rec(1, READ, (), 0, 1, 2)]
    assert linearizable(overlapping, model(spec))
    # write(1) returned before read() was called: the read must see 1.
    before = [rec(0, WRITE, (1,), None, 0, 1), rec(1, READ, (), 0, 2, 3)]
    assert not linearizable(before, model(spec))


@pytest.mark.parametrize("spec", [Register, LockedRegister])
def test_the_order_within_a_thread_is_kept(spec: Any) -> None:
    # One thread: read() -> 5 then write(5); no other thread writes 5 first.
    history = [rec(0, READ, (), 5, 0, 1), rec(0, WRITE, (5,), None, 2, 3), rec(1, WRITE, (7,), None, 0, 3)]
    assert not linearizable(history, model(spec))
    history[0].result = 0
    assert linearizable(history, model(spec))


def test_init_and_post_are_placed_first_and_last() -> None:
    history = [rec(INIT, WRITE, (4,), None, 0, 1), rec(0, READ, (), 4, 2, 3),
               CallRecord(POST, None, (), 4, 4, 5)]
    assert linearizable(history, model(post=lambda r: r.value))
    history[-1].result = 0  # the final state cannot be 0 after write(4)
    assert not linearizable(history, model(post=lambda r: r.value))


def test_exceptions_match_by_type() -> None:
    class Spec:
        def read(self) -> int:
            raise KeyError("spec's message")

        def write(self, v: int) -> None:
            pass

    same = [rec(0, READ, (), Raised(KeyError("another message")), 0, 1)]
    assert linearizable(same, model(Spec))
    other = [rec(0, READ, (), Raised(ValueError("x")), 0, 1)]
    assert not linearizable(other, model(Spec))
    value = [rec(0, READ, (), 0, 0, 1)]
    assert not linearizable(value, model(Spec))


class Counting(Register):
    calls = 0

    def read(self) -> int:
        Counting.calls += 1
        return self.value


class Opaque(Counting):
    """A state with no fingerprint (an unpicklable, field-less attribute): no memo."""

    def __init__(self) -> None:
        super().__init__()
        self.gen = (i for i in range(3))


def _many_reads() -> List[CallRecord]:
    # Three threads of three overlapping reads, and an impossible last result: every order is tried.
    history = [rec(t, READ, (), 0, 0, 100) for t in range(3) for _ in range(3)]
    for i, r in enumerate(history):
        r.start, r.end = i, 100 + i
    history[-1].result = 1
    return history


def test_memo_prunes_orders_that_reach_a_known_dead_end() -> None:
    Counting.calls = 0
    assert not linearizable(_many_reads(), model(Counting))
    with_memo = Counting.calls
    Counting.calls = 0
    assert not linearizable(_many_reads(), model(Opaque))
    without_memo = Counting.calls
    # Reads leave the state as it was: with the memo each (positions, state) is searched once.
    assert with_memo <= 3 * 4 ** 3 < 1000 < without_memo, (with_memo, without_memo)


def test_fingerprint_skips_locks_and_keeps_dict_order() -> None:
    a, b = LockedRegister(), LockedRegister()
    assert fingerprint(a) == fingerprint(b)
    b.value = 1
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint({1: 1, 2: 2}) != fingerprint({2: 2, 1: 1})
    assert fingerprint(Opaque()) is None


def test_model_falls_back_to_rerunning_prefixes() -> None:
    m = model(LockedRegister)
    history = [rec(0, WRITE, (1,), None, 0, 3), rec(1, WRITE, (2,), None, 0, 3), rec(2, READ, (), 1, 4, 5)]
    assert linearizable(history, m)
    assert m.copies is False  # a deepcopy of a lock failed once; every branch re-ran its prefix


class Lists:
    """add() returns a copy of the list (an unhashable result): racy without the lock."""

    locked = True

    def __init__(self) -> None:
        self.items: List[int] = []
        self.lock = threading.Lock()

    def add(self, x: int) -> List[int]:
        if not self.locked:
            self.items.append(x)
            return list(self.items)
        with self.lock:
            self.items.append(x)
            return list(self.items)


class RacyLists(Lists):
    locked = False


@pytest.mark.timeout(120)
def test_unhashable_results_are_checked_without_the_verdict_cache() -> None:
    from hypothesis import strategies as st

    ops = [lincheck.op(Lists.add, st.integers(0, 1))]
    assert lincheck.check(Lists, ops, scenarios=10, executions=20, seed=0).failure is None
    racy = lincheck.check(RacyLists, ops, scenarios=10, executions=100, seed=0)
    # Both adds returned the list with both items: the copy ran after the other thread's append.
    assert racy.failure is not None and [r.result for r in racy.history] == [[0, 0], [0, 0]]


