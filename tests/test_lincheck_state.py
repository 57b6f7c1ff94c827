"""The search's memo must not merge different spec states (the session-10 audit's classes)."""

from __future__ import annotations

import collections
import threading
from typing import Any, Optional, Tuple

import pytest
from hypothesis import strategies as st

from interleave import lincheck
from interleave.lincheck.history import CallRecord
from interleave.lincheck.search import Model, fingerprint, linearizable


class Reg(set):  # type: ignore[type-arg]
    """A set that also remembers the last key put: the attribute is state too."""

    def __init__(self) -> None:
        super().__init__()
        self.last: Optional[int] = None
        self.lock = threading.Lock()

    def put(self, k: int) -> None:
        with self.lock:
            self.add(k)
            self.last = k

    def get_last(self) -> Optional[int]:
        with self.lock:
            return self.last


class Gate:
    """Its whole state is an Event's flag."""

    def __init__(self) -> None:
        self.opened = threading.Event()

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.opened.clear()

    def is_open(self) -> bool:
        return self.opened.is_set()


class Stack(collections.deque):  # type: ignore[type-arg]
    """A deque subclass with an attribute: its items are state."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def push(self, x: int) -> None:
        with self.lock:
            self.append(x)

    def pop_(self) -> Optional[int]:
        with self.lock:
            return self.pop() if self else None


def rec(column: int, op: int, args: Tuple[Any, ...], result: Any, start: int, end: int) -> CallRecord:
    return CallRecord(column, op, args, result, start, end)


def test_a_set_subclass_keeps_its_attributes() -> None:
    # put(0) | put(1), get_last() -> 0: the order put(1), put(0), get_last() fits. The search first
    # tries put(0), put(1) (a dead end with last == 1), then reaches the same items with last == 0.
    ops = [lincheck.op(Reg.put, st.integers()), lincheck.op(Reg.get_last)]
    history = [rec(0, 0, (0,), None, 0, 5), rec(1, 0, (1,), None, 1, 2), rec(1, 1, (), 0, 3, 4)]
    assert linearizable(history, Model(Reg, ops, by_name=False, post=None))


def test_an_event_flag_is_state() -> None:
    # open() | close(), is_open() -> True: close, open, is_open fits.
    ops = [lincheck.op(Gate.open), lincheck.op(Gate.close), lincheck.op(Gate.is_open)]
    history = [rec(0, 0, (), None, 0, 5), rec(1, 1, (), None, 1, 2), rec(1, 2, (), True, 3, 4)]
    assert linearizable(history, Model(Gate, ops, by_name=False, post=None))


def test_a_deque_subclass_keeps_its_items() -> None:
    # push(0), pop_() -> 0 | push(1) (over before pop_): push(1), push(0), pop_() fits.
    ops = [lincheck.op(Stack.push, st.integers()), lincheck.op(Stack.pop_)]
    history = [rec(0, 0, (0,), None, 0, 5), rec(0, 1, (), 0, 6, 7), rec(1, 0, (1,), None, 1, 2)]
    assert linearizable(history, Model(Stack, ops, by_name=False, post=None))


def _different(make: Any, change: Any) -> None:
    a, b = make(), make()
    change(b)
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa is None or fb is None or fa != fb


@pytest.mark.parametrize("make, change", [
    (Reg, lambda r: setattr(r, "last", 1)),
    (Stack, lambda s: s.append(1)),
    (Gate, Gate.open),
    (lambda: threading.Semaphore(2), lambda s: s.acquire()),
    (lambda: threading.BoundedSemaphore(2), lambda s: s.acquire()),
    (threading.Lock, lambda lk: lk.acquire()),
    (threading.RLock, lambda lk: lk.acquire()),
    (lambda: collections.deque(maxlen=2), lambda d: d.append(1)),
    (lambda: collections.defaultdict(list), lambda d: d["k"]),
])
def test_different_states_have_different_fingerprints(make: Any, change: Any) -> None:
    _different(make, change)


def test_equal_looking_values_of_different_kinds_differ() -> None:
    assert fingerprint(0.0) != fingerprint(-0.0)
    assert fingerprint(collections.deque([1], maxlen=1)) != fingerprint(collections.deque([1]))

    class Tagged(int):
        def tag(self) -> str:
            return "t"

    t = Tagged(1)
    t.__dict__["note"] = "x"
    assert fingerprint(t) != fingerprint(1)


def test_equal_states_still_share_a_fingerprint() -> None:
    # The memo must still work for the usual locked class (no slowdown to exponential search).
    a, b = Reg(), Reg()
    a.put(1)
    b.put(1)
    assert fingerprint(a) is not None and fingerprint(a) == fingerprint(b)
    g, h = Gate(), Gate()
    assert fingerprint(g) == fingerprint(h)


def _adder(k: int) -> Any:
    return lambda x: x + k


class Hooked:
    """A spec that holds a lambda: it once had no fingerprint, so no memo (the audit's f33, f49)."""

    def __init__(self) -> None:
        self.v = 0
        self.lock = threading.Lock()
        self.fmt = lambda x: x


def test_a_state_holding_a_function_is_memoised_and_kept_apart() -> None:
    assert fingerprint(Hooked()) is not None and fingerprint(Hooked()) == fingerprint(Hooked())
    assert fingerprint(_adder(1)) == fingerprint(_adder(1))
    assert fingerprint(_adder(1)) != fingerprint(_adder(2))  # the closure is state
    changed = Hooked()
    changed.fmt = _adder(1)
    assert fingerprint(changed) != fingerprint(Hooked())


def test_a_history_that_is_not_linearizable_is_searched_with_the_memo() -> None:
    # 3 threads x 5 overlapping writes, then a read no write explains: without the memo the
    # search tries every order (756756 of them); with it, one per (position, value).
    calls = []

    def write(state: Hooked, x: int) -> None:
        calls.append(x)
        state.v = x

    ops = [lincheck.op(write, st.integers())]
    history = [rec(t, 0, (t * 10 + i,), None, 0, 100) for t in range(3) for i in range(5)]
    history.append(CallRecord(-2, None, (), 99, 101, 102))
    assert not linearizable(history, Model(Hooked, ops, by_name=False, post=lambda s: s.v))
    assert len(calls) < 50_000  # about 7000 (each branch re-runs its prefix: a lock, no deepcopy)
