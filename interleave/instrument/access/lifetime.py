"""How long the access tracker keeps what it saw: the objects whose ids name locations, and the
frames whose loads it remembers, are let go when the program lets them go (docs/dpor.md)."""

from __future__ import annotations

from types import FrameType
from typing import Any, List

from ...versions import CURRENT
from .analysis import SUSPENDABLE
from .vocabulary import ByObject

# type -> whether the tracker holds its objects for the rest of the execution, so that their ids
# name them alone. Objects that can be weakly referenced are let go (they may have finalizers,
# weakref callbacks or live in weak containers, which must see them die when the program drops
# them): an id reused later merges two objects' locations, i.e. adds dependencies, which is
# sound. Synchronisation objects are held: the lock rules order events through them, and a
# merged lock would invent a happens-before edge (docs/dpor.md).
#: ``frame.f_locals`` is a snapshot that outlives a ``del`` (analysis.drop_points).
SNAPSHOT = CURRENT.locals_snapshot
_HELD = ByObject()  # id(type) -> bool
_SYNC_MODULES = ("interleave", "threading", "_thread", "queue", "concurrent", "asyncio", "multiprocessing")


def _holds(tp: type) -> bool:
    held = tp.__weakrefoffset__ == 0 or any(
        (getattr(k, "__module__", None) or "").split(".")[0] in _SYNC_MODULES for k in tp.__mro__[:-1])
    _HELD.put(tp, id(tp), held)
    return held


def hold(keep: List[Any], obj: Any) -> None:
    """Append ``obj`` to ``keep`` (the tracker's, emptied between executions) if its type is held."""
    held = _HELD.get(id(type(obj)))
    if held is None:
        held = _holds(type(obj))
    if held:
        keep.append(obj)


def release_frames(tracker: Any, live: Any) -> None:
    """Drop the entries of the frames that are over from ``tracker``'s frame-keyed tables (an
    :class:`AccessTracker`'s, when a virtual thread has ended).

    A frame holds its locals, and on 3.10-3.12 its ``f_locals`` snapshot still holds a local the
    program ``del``eted: keeping finished frames would keep the program's objects alive past
    their end. ``live``: the frames on the stacks of the threads that have not ended. Any other
    frame but a generator's (which may be resumed) is over: its entries are never looked up
    again, and a new frame at the same address is a new key. Dropping a live frame's entry
    would cost precision only (its loads' values become unknown).
    """
    _drop(tracker, lambda f: type(f) is FrameType and f not in live and not f.f_code.co_flags & SUSPENDABLE)


def returned(tracker: Any, last: FrameType) -> None:
    """``last``, not a generator's frame, has returned (its caller runs): drop its entries. (A
    frame that returns without its caller reaching a point after it, its callees, goes when
    its thread ends.)"""
    _drop(tracker, lambda f: f is last)


def _drop(tracker: Any, over: Any) -> None:
    if over(tracker.quiet):
        tracker.quiet = None
    around, calls = tracker.around, tracker.calls
    for d in (tracker.memos, tracker.local_loads):
        for f in [f for f in d if over(f)]:
            del d[f]
    for f in [f for f, (key, _) in around.items() if over(f) or over(key)]:
        del around[f]
    for f in [f for f, (_, g) in calls.items() if over(f) or over(g)]:
        del calls[f]

