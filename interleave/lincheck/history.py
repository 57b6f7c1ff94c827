"""One execution of a scenario: the calls, their results and their call/return order (a history)."""

from __future__ import annotations

import collections
import itertools
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .operation import Operation
from .scenario import Scenario

#: The column of the init calls and of the post hook in a history.
INIT = -1
POST = -2


class Raised:
    """An exception as a result: equal to another ``Raised`` of the same exception type."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raised) and type(other.exc) is type(self.exc)

    def __hash__(self) -> int:
        return hash(type(self.exc))

    def __repr__(self) -> str:
        text = str(self.exc)
        return f"raises {type(self.exc).__name__}" + (f"({text})" if text else "")


@dataclass
class CallRecord:
    """One call in a history: where it ran, what it called, what it gave, when it started and ended."""

    column: int  # thread index, INIT or POST
    op: Optional[int]  # index into the operations; None for the post hook
    args: Tuple[Any, ...]
    result: Any = None  # the return value, or a Raised
    start: int = -1  # positions on one counter shared by all threads: call ...
    end: int = -1  # ... and return; a call precedes another when its end is before the other's start


def invoke(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; its result as it was when the call returned; an exception becomes a ``Raised``."""
    try:
        return as_returned(fn(*args))
    except Exception as exc:  # noqa: BLE001 - an exception is a result of the call
        return Raised(exc)


_CONTAINERS = (list, tuple, dict, set, bytearray, collections.deque)


def as_returned(value: Any, memo: Optional[Dict[int, Any]] = None) -> Any:
    """``value`` with its built-in containers copied, at any depth: what the caller saw on return.

    A call that returns the object's own list (``return self._items``) would otherwise show the
    appends of calls that came after it, and a correct class would be judged not linearizable.
    Only the built-in containers are copied: copying other objects would run the program's code
    (``__deepcopy__``, ``__reduce__``) with its switch points; those stay as they are.
    """
    kind = type(value)
    if kind not in _CONTAINERS:
        return value
    if memo is None:
        memo = {}
    done = memo.get(id(value))
    if done is not None:
        return done
    out: Any
    if kind is list:
        out = memo[id(value)] = []
        out.extend(as_returned(v, memo) for v in value)
    elif kind is dict:
        out = memo[id(value)] = {}
        out.update((k, as_returned(v, memo)) for k, v in value.items())
    elif kind is collections.deque:
        out = memo[id(value)] = collections.deque(maxlen=value.maxlen)
        out.extend(as_returned(v, memo) for v in value)
    elif kind is tuple:
        out = memo[id(value)] = tuple(as_returned(v, memo) for v in value)
    else:  # set (its items are hashable: not containers to copy), bytearray
        out = memo[id(value)] = kind(value)
    return out


def run_scenario(factory: Callable[[], Any], operations: Sequence[Operation], scenario: Scenario,
                 post: Optional[Callable[[Any], Any]], history: List[CallRecord]) -> List[CallRecord]:
    """Run the scenario once (inside an execution): init calls, one thread per column, join, post.

    This module is interleave's code, so it has no switch points: the counter ticks right before
    a call's first instruction and right after its last one, which makes the order of ticks the
    real-time order of the calls in this interleaving. ``history`` (empty) receives every call
    before it runs, so that a run that deadlocks still shows which calls started and returned.
    """
    clock = itertools.count()
    obj = factory()
    for i, args in scenario.init:
        rec = CallRecord(INIT, i, args)
        history.append(rec)
        rec.start = next(clock)
        rec.result = invoke(operations[i].fn, obj, *args)
        rec.end = next(clock)
    columns = [[CallRecord(t, i, args) for i, args in calls] for t, calls in enumerate(scenario.threads)]
    for col in columns:
        history.extend(col)

    def worker(column: List[CallRecord]) -> None:
        for rec in column:
            rec.start = next(clock)
            rec.result = invoke(operations[rec.op].fn, obj, *rec.args)  # type: ignore[index]
            rec.end = next(clock)

    threads = [threading.Thread(target=worker, args=(col,), name=f"T{t + 1}") for t, col in enumerate(columns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if post is not None:
        rec = CallRecord(POST, None, ())
        history.append(rec)
        rec.start = next(clock)
        rec.result = invoke(post, obj)
        rec.end = next(clock)
    return history
