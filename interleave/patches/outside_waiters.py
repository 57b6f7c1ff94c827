"""Threads outside the run that wait inside an object the run made cooperative: nothing in the run wakes them."""

from __future__ import annotations

import sys
import threading
from types import FrameType
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ..instrument.filter import is_stdlib_file
from .start_state import StartState


def _adopted(start: StartState) -> Dict[int, Any]:
    """The objects the run gave new internals: retooled Conditions and the objects built on them."""
    found: Dict[int, Any] = {id(c): c for c in start.conditions}
    found.update((id(obj), obj) for obj, _, _ in start.values if obj not in start.executors)
    return found


class OutsideWaiter(NamedTuple):
    """An OS thread the run did not start, waiting in a method of an object the run adopted."""

    thread: str
    method: str  # module.Class.method
    filename: str  # the first frame outside the standard library: the thread's own code ("": none)
    lineno: int
    function: str


def _waits_in(frame: Optional[FrameType], adopted: Dict[int, Any]) -> Optional[Tuple[str, str, int, str]]:
    """The outermost adopted object's method the stack waits in, and the first caller outside the stdlib.

    Outermost: an Event waits in its Condition, and the Event is what the thread's code named.
    """
    method = None
    f = frame
    while f is not None:
        code = f.f_code
        if method is not None and not is_stdlib_file(code.co_filename):
            return method, code.co_filename, f.f_lineno, code.co_name
        if "self" in code.co_varnames[:1]:
            owner = f.f_locals.get("self")
            if owner is not None and adopted.get(id(owner)) is owner:
                kind = type(owner)
                method = f"{kind.__module__}.{kind.__qualname__}.{code.co_name}"
        f = f.f_back
    return None if method is None else (method, "", 0, "")


def outside_waiters(start: StartState, caller_ident: int) -> List[OutsideWaiter]:
    """The OS threads (not the run's) that wait in an object the run made cooperative."""
    adopted = _adopted(start)
    if not adopted:
        return []
    names = {ident: t.name for ident, t in list(threading._active.items())}  # type: ignore[attr-defined]
    found = []
    for ident, frame in sys._current_frames().items():
        if ident == caller_ident:
            continue
        where = _waits_in(frame, adopted)
        if where is not None:
            found.append(OutsideWaiter(names.get(ident, f"thread {ident}"), *where))
    return found
