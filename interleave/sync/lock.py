"""A Lock the harness schedules inside a run and that behaves as a real lock outside one."""

from __future__ import annotations

import sys
from _thread import LockType as _RealLockType
from _thread import allocate_lock as _real_lock
from _thread import get_ident as _real_get_ident
from typing import Any, Callable, Optional, Tuple

from ..instrument.access.primitives import declare_primitive
from ..runtime import context as _context
from ..runtime.operation import OpKind
from ..runtime.vthread import WaitQueue

_ACQUIRE, _RELEASE = OpKind.ACQUIRE, OpKind.RELEASE
_getframe = sys._getframe
_validator = _real_lock()  # always free: its acquire checks a timeout as a real wait would


def check_timeout(blocking: bool, timeout: float) -> None:
    """Raise what a real lock raises for this timeout (negative, NaN, too large, not a number)."""
    if _validator.acquire(blocking, timeout):
        _validator.release()

# The standard library takes a Lock about ten times per thread it starts and joins (Event and
# Condition, the tstate lock, join): those operations are no switch points (the filter does not
# want their callers) and are not recorded, so taking a lock looks its caller up in the
# execution's ``wanted_files`` and goes straight to the real lock when the caller is known not
# to be code under test, instead of three calls deep through ``running`` and ``sync_point``;
# the other paths ask the filter (``ex.wants``) and call ``user_point`` themselves. The
# running-execution test is ``sync.running.running`` written out for the same reason.


@declare_primitive("lock", replaces=("_thread.allocate_lock", "threading._allocate_lock", "threading.Lock"),
                   real_type=_RealLockType)
class Lock:
    """Cooperative ``threading.Lock``: waiting parks the virtual thread, never the OS thread."""

    __slots__ = ("_real", "_queue", "_holder_tid", "__weakref__")

    def __init__(self) -> None:
        self._real = _real_lock()  # the state, and the real behaviour outside a run
        self._queue: Optional[WaitQueue] = None
        self._holder_tid: Optional[int] = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock; inside a run, waiting parks the virtual thread."""
        ex = _context.active
        if ex is None or _real_get_ident() != ex.os_ident:
            return self._real.acquire(blocking, timeout)
        caller = _getframe(1)
        if ex.wanted_files.get(caller.f_code.co_filename) is False and timeout == -1:
            # The standard library's own operation: no switch point. A free lock is taken, and
            # a try (Condition's ``_is_owned``) fails at once; only a wait needs ``_acquire``.
            if self._real.acquire(False):
                self._holder_tid = ex.current.tid
                if ex.lock_hook is not None:
                    ex.lock_hook(True, self)
                return True
            if not blocking:
                return False
        return self._acquire(ex, blocking, timeout, caller)

    def _acquire(self, ex: Any, blocking: bool, timeout: float, caller: Any) -> bool:
        if timeout != -1:
            check_timeout(blocking, timeout)  # a virtual wait must fail where the real one does
        code = caller.f_code
        wanted = ex.wanted_files.get(code.co_filename)  # ``ex.wants``, without the call
        seen = wanted or (wanted is None and ex.wants(code))
        if seen:
            ex.user_point(_ACQUIRE, self, caller, blocking, None if timeout == -1 else timeout)
        if self._real.acquire(False):
            self._holder_tid = ex.current.tid
            if not seen and ex.lock_hook is not None:
                ex.lock_hook(True, self)
            return True
        if not blocking:
            return False
        if self.wait_to_take(ex, timeout):
            if not seen and ex.lock_hook is not None:
                ex.lock_hook(True, self)
            return True
        return False

    def wait_to_take(self, ex: Any, timeout: float = -1) -> bool:
        """Park until the lock is taken (True) or ``timeout`` virtual seconds pass (False).

        No switch point: the caller has had its own, or is the runtime (a thread's join).
        """
        real = self._real
        q = self._queue
        if q is None:
            q = self._queue = WaitQueue(self, f"Lock at {id(self):#x}")
        deadline = None if timeout == -1 else ex.now + timeout
        while True:
            ok = ex.park(q, None if deadline is None else deadline - ex.now)
            if real.acquire(False):
                self._holder_tid = ex.current.tid
                return True
            if not ok:
                return False

    def release(self) -> None:
        """Release the lock and wake its waiters."""
        self._release(_getframe(1))

    def _release(self, caller: Any) -> None:
        """``release`` called from ``caller``: a switch point first if that is code under test."""
        ex = _context.active
        if ex is not None and _real_get_ident() == ex.os_ident:
            code = caller.f_code
            wanted = ex.wanted_files.get(code.co_filename)  # ``ex.wants``, without the call
            if wanted or (wanted is None and ex.wants(code)):
                ex.user_point(_RELEASE, self, caller)
            elif ex.lock_hook is not None:
                ex.lock_hook(False, self)
        self._real.release()  # ``release_unscheduled``, without the call
        self._holder_tid = None
        q = self._queue
        if q is not None and q.waiters:
            q.unpark_all()

    def release_unscheduled(self) -> None:
        """Release without a switch point: for the runtime, e.g. when a thread has ended."""
        ex = _context.active
        if ex is not None and ex.lock_hook is not None and _real_get_ident() == ex.os_ident:
            ex.lock_hook(False, self)
        self._real.release()
        self._holder_tid = None
        q = self._queue
        if q is not None and q.waiters:
            q.unpark_all()

    def __enter__(self) -> bool:
        ex = _context.active
        if ex is None or _real_get_ident() != ex.os_ident:
            return self._real.acquire()
        caller = _getframe(1)
        if ex.wanted_files.get(caller.f_code.co_filename) is False and self._real.acquire(False):
            self._holder_tid = ex.current.tid  # as in ``acquire``
            if ex.lock_hook is not None:
                ex.lock_hook(True, self)
            return True
        return self._acquire(ex, True, -1, caller)

    def __exit__(self, *exc: Any) -> None:
        self._release(_getframe(1))

    def locked(self) -> bool:
        """Whether the lock is held."""
        return self._real.locked()

    # ------------------------------------------------------------ the primitive protocol
    def would_wait(self) -> bool:
        """Whether an acquisition that waits until woken would wait now."""
        return self._real.locked()

    @classmethod
    def adopt(cls, real: Any, undo: Callable[[Callable[[], None]], None]) -> Lock:
        """A twin of a real lock made before the run: held if it is held."""
        twin = cls()
        if real.locked():
            # Held when the run starts (by the test, or a real thread): so is the twin.
            twin._real.acquire()
        return twin

    def give_back(self, real: Any) -> bool:
        """For a twin the run cannot use: give back what it took from ``real``; True if that
        leaves it of no use (a lock's twin took only its state: it still stands for it)."""
        return False

    def snapshot(self) -> Tuple[bool, Optional[int]]:
        """Its state as an execution starts: held or not, and by which virtual thread."""
        return (self._real.locked(), self._holder_tid)

    def reset(self, state: Tuple[bool, Optional[int]]) -> None:
        """Back to ``snapshot``'s state, with no waiters (an unwound thread may have left both)."""
        locked, holder = state
        real = self._real
        if real.locked() != locked:
            if locked:
                real.acquire(False)
            else:
                real.release()
        self._holder_tid = holder
        self._queue = None

    def _at_fork_reinit(self) -> None:
        self._real = _real_lock()
        self._holder_tid = None

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self._real.locked() else "unlocked"
        return f"<interleave Lock {state} at {id(self):#x}>"
