"""A thread's next operation as DPOR sees it: its accesses, and whether it would block now.

The runtime passes a switch point's code and offset (or a sync operation); this module finds
the user frame to read the access from, makes a sync point's blocking predicate exact, and
evaluates it. It also derives the accesses of the operations that are not instructions: a
timeout firing, a parked operation resumed, a thread's end.
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType
from typing import Any, Dict, Optional, Tuple

from ..instrument import access as A
from ..runtime.execution import DONE, Execution
from ..sync.lock import Lock
from ..sync.simplequeue import SimpleQueue
from .dpor_relation import _Accs

_POINT_CODE = Execution.point.__code__
_PARK_CODE = Execution.park.__code__
_EVERYTHING = A.EVERYTHING
_getframe = sys._getframe
_ACQUIRE_CODE = Lock._acquire.__code__
_ENTER_CODE = Lock.__enter__.__code__  # calls _acquire blocking and untimed, always
_SQ_GET_CODE = SimpleQueue.get.__code__

# A thread's next operation: (access, frame, code, offset, resumes-a-parked-operation).
_Pending = Tuple[A.Access, Optional[FrameType], Optional[CodeType], int, bool]


class PendingOperations:
    """Reads and keeps each thread's pending operation (a part of the DPOR strategy)."""

    ex: Any
    gil: bool
    pend: Dict[int, Optional[_Pending]]
    tracker: A.AccessTracker
    sync_accs: Dict[Any, A.Access]  # this execution's lock operations (see _sync_pending)

    def _pending_of(self, vt: Any) -> _Pending:
        """The pending operation of a thread that has not reported it (first point, wake-up)."""
        p = self.pend.get(vt.tid)
        if p is not None:
            return p
        frame = _getframe(1) if vt is self.ex.current else (vt.glet.gr_frame if vt.glet else None)
        f = frame
        n = 0
        while f is not None and n < 60:
            c = f.f_code
            if c is _POINT_CODE:
                loc = f.f_locals
                code = loc.get("code")
                off = loc.get("offset", 0)
                if code is not None:
                    uf = _find_frame(f, code)
                    if uf is not None:
                        acc = self.tracker.pick(uf, code, off)
                        p = (_coarse(acc) if self.gil else acc, uf, code, off, False)
                        break
                else:
                    acc = _sync_pending(loc.get("op"), f, self.sync_accs)
                    p = (_coarse(acc) if self.gil else acc, None, None, 0, False)
                    break
            if c is _PARK_CODE:
                p = (A.unknown("resumes a wait"), None, None, 0, True)
                break
            f = f.f_back
            n += 1
        if p is None:
            p = (A.unknown("unknown position"), None, None, 0, False)
        self.pend[vt.tid] = p
        return p


def _reentrant(lock: Any, vt: Any) -> bool:
    """An RLock acquisition by its owner: it takes nothing from anyone."""
    owner = getattr(lock, "_owner", None)
    return owner is not None and owner == vt.ident


def _is_lock(obj: Any) -> bool:
    return isinstance(obj, Lock) or hasattr(obj, "_owner") and hasattr(obj, "_block")


def _frees(lock: Any) -> bool:
    """A release that makes the lock available (an RLock's last one)."""
    count = getattr(lock, "_count", None)
    return not isinstance(count, int) or count <= 1


def _fired(acc: A.Access) -> _Accs:
    """A timeout firing: virtual time moves, and the parked operation goes on."""
    return acc.locs + ((A.CLOCK, True),)


def _coarse(acc: A.Access) -> A.Access:
    """Under the gil model an event runs many instructions between switch points: the harness
    does not follow them all, so it depends on everything (sound, and as costly as exhaustive)."""
    if acc.locs is _EVERYTHING:
        return acc
    return A.Access(acc.kind, _EVERYTHING, obj=acc.obj, name=acc.name, space=acc.space, block=acc.block,
                    sync=acc.sync)


def _carry(acc: A.Access) -> A.Access:
    """The access of resuming a parked operation: the same locations, never disabled again."""
    out = A.Access(acc.kind, acc.locs, obj=acc.obj, name=acc.name, space=acc.space, sync=acc.sync)
    return out


def _find_frame(f: Optional[FrameType], code: CodeType) -> Optional[FrameType]:
    n = 0
    while f is not None and f.f_code is not code and n < 16:
        f = f.f_back
        n += 1
    return f if f is not None and f.f_code is code else None


def _sync_pending(op: Any, start: Optional[FrameType], cache: Optional[Dict[Any, A.Access]] = None) -> A.Access:
    """The access of a synchronisation switch point, its blocking predicate made exact.

    With ``cache`` (one execution's), the access of a lock's acquire or release is built once
    per lock and kind of call: it is most of the sync points, and nothing mutates a pending
    sync access once built. The cached access holds the lock, so its id stays unique.
    """
    if cache is not None and type(op) is tuple and len(op) > 1 and (op[0] == "acquire" or op[0] == "release"):
        target = op[1]
        key = (op[0], id(target), op[0] == "acquire" and _blocks_untimed(op, start))
        acc = cache.get(key)
        if acc is None:
            acc = A.sync_access(op)
            if not key[2]:
                acc.block = None
            cache[key] = acc
        return acc
    acc = A.sync_access(op)
    if acc.block is not None:
        acc = _refine_block(acc, op, start)
    return acc


def _blocks_untimed(op: Any, start: Optional[FrameType]) -> bool:
    """Whether the sync call reported from ``start`` is a blocking, untimed one (see below)."""
    f = start
    n = 0
    want = _ACQUIRE_CODE if op[0] == "acquire" else _SQ_GET_CODE
    while f is not None and f.f_code is not want and n < 8:
        f = f.f_back
        n += 1
    if f is None:
        return False
    if want is _ACQUIRE_CODE:
        back = f.f_back
        if back is not None and back.f_code is _ENTER_CODE:
            return True  # ``with lock``: no need to build the frame's locals
    loc = f.f_locals
    if op[0] == "acquire":
        return bool(loc.get("blocking", True)) and loc.get("timeout", -1) == -1
    return bool(loc.get("block", True)) and loc.get("timeout") is None


def _refine_block(acc: A.Access, op: Any, start: Optional[FrameType]) -> A.Access:
    """A sync point's blocking predicate holds only for a blocking, untimed call."""
    if not _blocks_untimed(op, start):
        acc.block = None
    return acc


def _blocks(b: Any, vt: Any, ex: Any) -> bool:
    """Evaluate a blocking predicate: True if the operation cannot proceed now."""
    kind, obj = b
    try:
        if kind == "lock":
            return obj.locked()
        if kind == "rlock":
            return obj._block.locked() and obj._owner != vt.ident
        if kind == "join":
            for t in ex.threads:
                if t.thread is obj:
                    return t.state != DONE
            return False
        if kind == "event":
            return not obj._flag
        if kind == "sem":
            return obj._value == 0
        if kind == "qget":
            return obj._qsize() == 0
        if kind == "qput":
            return 0 < obj.maxsize <= obj._qsize()
        if kind == "qjoin":
            return obj.unfinished_tasks > 0
        if kind == "nonempty":
            return not obj._items
    except Exception:  # noqa: BLE001 - when unsure, let it run: blocking inside an event is sound
        return False
    return False
