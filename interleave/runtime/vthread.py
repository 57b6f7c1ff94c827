"""Virtual threads and the one blocking primitive they park on: a wait queue another thread unparks.

The two refer to each other (a thread waits on a queue, a queue holds its threads), so they live
together, below everything that schedules them.
"""

from __future__ import annotations

import weakref
from typing import Any, List, Optional

from greenlet import greenlet

from . import context
from .operation import SwitchPoint

READY, BLOCKED, DONE = 0, 1, 2
_weak = weakref.ref

# Virtual idents are small numbers so that they never collide with a real pthread id.
IDENT_BASE = 0x7100


class VThread:
    """A virtual thread: one greenlet plus its scheduling state."""

    __slots__ = (
        "tid", "name", "glet", "state", "queue", "deadline", "timed_out",
        "daemon", "ident", "exit_queue", "sentinel", "handle", "thread", "pending", "start", "clock",
        "clock_repeats", "passed_over", "__weakref__",  # its exit queue refers to it weakly
    )

    def __init__(self, tid: int, name: str, daemon: bool, ident: int) -> None:
        self.tid = tid
        self.name = name
        self.glet: Optional[greenlet] = None
        self.state = READY
        self.queue: Optional[WaitQueue] = None
        self.deadline: Optional[float] = None
        self.timed_out = False
        self.pending: Optional[SwitchPoint] = None  # its latest switch point, updated in place
        self.daemon = daemon
        self.ident = ident
        # Made by the first join that has to wait (threading's own join waits on the tstate
        # lock up to 3.12, so most threads never need one).
        self.exit_queue: Optional[WaitQueue] = None
        self.sentinel: Any = None  # threading's tstate lock (<=3.12), released on exit
        self.handle: Any = None  # threading's _ThreadHandle (3.13), marked done on exit
        self.thread: Any = None  # the threading.Thread object, once known
        self.start: Any = None  # (func, args, kwargs) until it first runs
        # What its clock read last, and how often in a row (see ``sync.vtime``): at or past the
        # execution's clock, which only a timeout moves; its own timeouts count from here.
        self.clock = -1.0
        self.clock_repeats = 0
        # Timeouts run out early, moving virtual time, while it was ready and not run (fairness.py).
        self.passed_over = 0

    def unpark(self) -> None:
        """Runnable again: off its wait queue, no deadline."""
        self.state = READY
        self.queue = None
        self.deadline = None

    def __repr__(self) -> str:
        return f"<VThread {self.tid} {self.name} state={self.state}>"


class WaitQueue:
    """Threads parked on one synchronisation object; every primitive is built on this.

    The owner holds its queue, so the queue refers to the owner weakly when it can: no
    reference cycle, and a thread, lock or queue of an execution is freed when the execution
    drops it instead of waiting for the cycle collector (a collection every few executions).
    A thread parked on the queue keeps the owner alive through its own frame.
    """

    __slots__ = ("waiters", "_owner", "_strong", "describe", "patient")
    _owner: Optional[weakref.ref]  # set, with ``_strong``, by the ``owner`` setter
    _strong: Any

    def __init__(self, owner: object = None, describe: str = "", patient: bool = False) -> None:
        self.waiters: List[VThread] = []
        self.owner = owner  # the primitive this queue belongs to, for deadlock reports
        self.describe = describe
        #: A timed wait on this queue runs out only when no thread can run, whatever ``timeouts``.
        self.patient = patient

    @property
    def owner(self) -> Any:
        """The primitive this queue belongs to (None once it is gone, or if it had none)."""
        ref = self._owner
        return self._strong if ref is None else ref()

    @owner.setter
    def owner(self, owner: Any) -> None:
        try:
            self._owner = _weak(owner)
            self._strong = None
        except TypeError:  # None, or a type without weak references
            self._owner = None
            self._strong = owner

    def unpark_one(self) -> Optional[VThread]:
        """Make the longest-waiting thread runnable again."""
        if not self.waiters:
            return None
        t = self.waiters.pop(0)
        t.unpark()
        # A thread became runnable: end the current grant so the strategy sees it at the next
        # point (the running execution's, read here: this runs at every wake-up).
        ex = context.active
        if ex is not None:
            ex.cut_grant()
        return t

    def unpark_all(self) -> int:
        """Make every waiting thread runnable again; they compete in scheduler order."""
        ws = self.waiters
        if not ws:
            return 0
        self.waiters = []
        for t in ws:  # ``unpark`` written out: this runs at every thread exit and lock release
            t.state = READY
            t.queue = None
            t.deadline = None
        ex = context.active  # end the current grant, as in ``unpark_one``
        if ex is not None:
            ex.cut_grant()
        return len(ws)


def with_due_timers(alive: List[VThread], ready: List[int], now: float) -> List[int]:
    """``ready`` plus the blocked threads whose deadline comes first (they may time out now), in tid order.

    A patient wait (see ``WaitQueue.patient``) may time out early only when no thread is ready;
    once virtual time has reached its deadline it is due like any other.
    """
    best: Optional[float] = None
    timers: List[int] = []
    for t in alive:
        if t.state != READY and t.deadline is not None and not (
                ready and t.deadline > now and t.queue is not None and t.queue.patient):
            if best is None or t.deadline < best:
                best = t.deadline
                timers = [t.tid]
            elif t.deadline == best:
                timers.append(t.tid)
    if timers:
        ready.extend(timers)
        ready.sort()
    return ready
