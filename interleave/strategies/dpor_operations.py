"""A thread's next operation as DPOR sees it: its accesses, and whether it would block now.

The runtime passes each switch point (the instruction and the frame running it, or the
operation a primitive declared); this module reads the access there, and evaluates blocking
predicates. It also derives the accesses of the operations that are not instructions: a
timeout firing, a parked operation resumed, a thread's end.
"""

from __future__ import annotations

from types import FrameType
from typing import Any, Dict, Optional, Tuple

from ..errors import OptionError
from ..instrument import access as A
from ..instrument.access.stack import Spec
from ..runtime.execution import DONE
from ..runtime.operation import Op, OpKind, SwitchPoint
from ..sync.lock import Lock
from .dpor_relation import _Accs

_EVERYTHING = A.EVERYTHING
_ACQUIRE, _RELEASE = OpKind.ACQUIRE, OpKind.RELEASE

# A thread's next operation: (access, frame, spec, resumes-a-parked-operation). The frame and
# the Spec are set only when the instruction produces a value a later one reads (the tracker's
# ``produced`` when it runs); otherwise running it needs nothing from DPOR.
_Pending = Tuple[A.Access, Optional[FrameType], Optional[Spec], bool]


class PendingOperations:
    """Reads and keeps each thread's pending operation (a part of the DPOR strategy)."""

    ex: Any
    gil: bool
    pend: Dict[int, Optional[_Pending]]
    tracker: A.AccessTracker
    sync_accs: Dict[Any, A.Access]  # this execution's lock operations (see _sync_pending)

    def use_timeouts(self, timeouts: str) -> None:
        """Refuse ``timeouts="when-stuck"``: DPOR's races do not cover when a timeout runs out there."""
        if timeouts == "when-stuck":
            raise OptionError(
                "strategy 'dpor' cannot run with timeouts='when-stuck': a timeout that runs out only when no "
                "thread can run is a choice DPOR's races do not cover, so its proof would not hold (docs/dpor.md). "
                "For a proof use strategy='exhaustive' (preemptions= bounds it); to hunt, the default portfolio")

    def _operation(self, point: SwitchPoint, now: bool = False) -> _Pending:
        """The pending operation at a switch point the runtime reported.

        ``now``: it runs at once, without a decision; what it produces is kept already, so the
        pending operation carries no frame (nothing is left to do when it runs).
        """
        code = point.code
        if code is not None:
            f = point.frame
            if f is None:
                return (A.unknown("frame not found"), None, None, False)
            if now:
                acc = self.tracker.pick(f, code, point.offset, now=True)
                return (_coarse(acc) if self.gil else acc, None, None, False)
            acc, spec = self.tracker.pick_pending(f, code, point.offset)
            if self.gil:
                acc = _coarse(acc)
            return (acc, f, spec, False) if spec is not None else (acc, None, None, False)
        acc = _sync_pending(point.op, self.sync_accs)
        return (_coarse(acc) if self.gil else acc, None, None, False)

    def _pending_of(self, vt: Any) -> _Pending:
        """The pending operation of a thread that has not reported it (first point, wake-up)."""
        p = self.pend.get(vt.tid)
        if p is not None:
            return p
        point = vt.pending
        if point is None:
            p = (A.unknown("unknown position"), None, None, False)
        elif point.resumes:
            p = (A.unknown("resumes a wait"), None, None, True)
        else:
            p = self._operation(point)
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


def _takes_now(target: Any) -> bool:
    """Whether an acquisition that does not wait until woken takes ``target`` (a lock or semaphore) now."""
    try:
        if _is_lock(target):
            inner = getattr(target, "_block", target)  # an RLock: its inner lock (the owner's own is reentrant)
            return not inner.locked()
        value = getattr(target, "_value", None)
        return isinstance(value, int) and value > 0
    except Exception:  # noqa: BLE001 - unsure: no acquisition recorded, as before
        return False


def _fired(acc: A.Access) -> _Accs:
    """A timeout firing: virtual time moves, and the parked operation goes on.

    Whether it may run out now depends on the deadlines other threads registered (the earliest
    runs out first): it reads them, so it races with the registration of an earlier one, where
    it could have run out before that thread even began to wait.
    """
    return acc.locs + ((A.CLOCK, True), (A.DEADLINES, False))


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


def _sync_pending(op: Optional[Op], cache: Optional[Dict[Any, A.Access]] = None) -> A.Access:
    """The access of a synchronisation switch point (blocking only if it waits until woken).

    With ``cache`` (one execution's), the access of a lock's acquire or release is built once
    per lock and kind of call: it is most of the sync points, and nothing mutates a pending
    sync access once built. The cached access holds the lock, so its id stays unique.
    """
    if cache is not None and op is not None and (op.kind is _ACQUIRE or op.kind is _RELEASE):
        key = (op.kind, id(op.target), op.waits_until_woken)
        acc = cache.get(key)
        if acc is None:
            acc = cache[key] = A.sync_access(op)
        return acc
    return A.sync_access(op)


def _blocks(b: Any, vt: Any, ex: Any) -> bool:
    """Evaluate a blocking predicate: True if the operation cannot proceed now."""
    kind, obj = b
    try:
        if kind == "waits":  # a declared primitive: it knows
            return obj.would_wait()
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
    except Exception:  # noqa: BLE001 - when unsure, let it run: blocking inside an event is sound
        return False
    return False
