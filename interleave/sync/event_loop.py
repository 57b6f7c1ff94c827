"""An asyncio event loop inside a run: its selector waits in virtual time when nothing real can wake it.

A loop with no I/O of its own waits in its selector for one of two things: its next timer, or a
``call_soon_threadsafe`` from another thread, which writes a byte to the loop's own wake-up
socket. Both come from inside the run, yet a real wait for them blocks the only OS thread: the
thread that would call back never runs, and the timer never comes due, as virtual time stands
still while the OS thread sleeps. So ``asyncio.to_thread``, ``run_in_executor`` and
``asyncio.sleep`` in a thread ended as "blocked for real".

When the selector watches nothing but that socket, and the loop handles no signals (a signal
writes the byte from C), the wait becomes a park: woken by the write, or timed out in virtual
time. A loop that also watches real I/O (a socket, a pipe to a process) still waits for real:
something outside the run may answer it, and the watchdog bounds that wait.
"""

from __future__ import annotations

import sys
import weakref
from _thread import get_ident as _real_get_ident
from types import FrameType
from typing import Any, Callable, List, Optional

from ..runtime import context
from ..runtime.vthread import READY, WaitQueue

_DESCRIBE = ("an asyncio event loop's next event: a call_soon_threadsafe from another thread "
             "(its selector watches nothing else)")
_DESCRIBE_TIMED = _DESCRIBE[:-1] + " or its next timer)"

# One queue per loop, for the threads of a run waiting in its selector (a loop is run by one).
_queues: weakref.WeakKeyDictionary[Any, WaitQueue] = weakref.WeakKeyDictionary()


def _waiting_loop(selector: Any, caller: Optional[FrameType], run_once: Any) -> Any:
    """The loop whose ``_run_once`` is calling ``selector.select``, if only its wake-up socket is watched."""
    if caller is None or caller.f_code is not run_once:
        return None
    loop = caller.f_locals.get("self")
    own: Any = getattr(loop, "_selector", None)
    if own is not selector or getattr(loop, "_signal_handlers", None):
        return None
    ssock = getattr(loop, "_ssock", None)
    if ssock is None:
        return None
    keys = own.get_map()
    if keys is None or len(keys) != 1:
        return None
    try:
        only = next(iter(keys.values()))
        return loop if only.fd == ssock.fileno() else None
    except (StopIteration, OSError, ValueError):
        return None


def _wait(ex: Any, selector: Any, loop: Any, timeout: Optional[float], real: Callable[..., List[Any]]) -> List[Any]:
    ready = real(selector, 0)
    if ready or (timeout is not None and timeout <= 0):
        return ready
    queue = _queues.get(loop)
    if queue is None:
        # Patient: the loop's timers are mostly safety nets (asyncio.run's 300 s wait for the
        # default executor's threads on 3.13, wait_for around a thread's work), and a timer that
        # runs out while another thread could still answer turns them into spurious timeouts.
        queue = _queues[loop] = WaitQueue(loop, _DESCRIBE if timeout is None else _DESCRIBE_TIMED, patient=True)
    else:
        queue.describe = _DESCRIBE if timeout is None else _DESCRIBE_TIMED
    cur = ex.current
    start = max(cur.clock, ex.now)
    if timeout is not None:
        ex.patient_waits = True
    deadline = None if timeout is None else start + timeout
    while True:
        left = None if deadline is None else deadline - max(cur.clock, ex.now)
        if left is not None and left <= 0:
            return real(selector, 0)
        if deadline is not None and not ex.tearing_down and _first_due(ex, cur, deadline):
            # Nothing else can run, and no other timer is due before this one: the park would
            # end with this timeout and nothing else, so time moves on here (a decision with a
            # single choice that no strategy needs to see).
            ex.now = max(ex.now, deadline)
            return real(selector, 0)
        woken = ex.park(queue, left)
        ready = real(selector, 0)
        if ready or not woken:
            return ready


def _first_due(ex: Any, cur: Any, deadline: float) -> bool:
    """Whether no other thread can run, nor time out at or before ``deadline``."""
    for t in ex.alive:
        if t is not cur and (t.state == READY or (t.deadline is not None and t.deadline <= deadline)):
            return False
    return True


def virtual_select(real: Callable[..., List[Any]], run_once: Any) -> Callable[..., List[Any]]:
    """A selector class's ``select`` that parks the virtual thread instead of the OS thread."""

    def select(self: Any, timeout: Optional[float] = None) -> List[Any]:
        ex = context.active
        if ex is not None and _real_get_ident() == ex.os_ident and ex.current is not None:
            loop = _waiting_loop(self, sys._getframe(1), run_once)
            if loop is not None:
                return _wait(ex, self, loop, timeout, real)
        return real(self, timeout)

    select.__wrapped__ = real  # type: ignore[attr-defined]
    return select


def waking_write_to_self(real: Callable[[Any], None]) -> Callable[[Any], None]:
    """``BaseSelectorEventLoop._write_to_self`` that also wakes the thread parked in the loop's selector."""

    def _write_to_self(self: Any) -> None:
        real(self)
        ex = context.active
        if ex is not None and _real_get_ident() == ex.os_ident:
            queue = _queues.get(self)
            if queue is not None and queue.waiters:
                queue.unpark_all()

    _write_to_self.__wrapped__ = real  # type: ignore[attr-defined]
    return _write_to_self
