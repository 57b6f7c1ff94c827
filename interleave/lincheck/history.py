"""One execution of a scenario: the calls, their results and their call/return order (a history)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

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
    """Call ``fn``; an exception (not an interrupt) becomes a ``Raised`` result."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - an exception is a result of the call
        return Raised(exc)


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
