"""Run the linearizability search so that a spec call that blocks or never returns is reported, not hung on.

The search runs the spec one call at a time with nothing else running, outside the run: its
locks are real locks there. An operation that waits for another call (``get`` on an empty
queue) waits for ever when the search tries it first, and one that spins until another call
happened spins for ever; the harness's watchdog does not see either, since no execution is
active. So the search runs on a helper OS thread while the run's thread watches it: a spec call
parked on a lock it holds itself (nothing else can release it) is reported at once, any other
call that has not returned after ``SPEC_CALL_SECONDS`` is reported then, and Ctrl-C leaves the
wait as ``KeyboardInterrupt``. A helper that spins (its CPU clock moves) is stopped; one parked
for ever, or waiting inside a C call, is left so (a daemon thread, no CPU): stopping it would
leave an asynchronous exception pending, see ``_spins``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any, Callable, Dict, List, Optional

from ..errors import InconclusiveError
from ..instrument.filter import HARNESS_DIR
from ..runtime.watchdog import thread_cpu_seconds
from ..sync.lock import Lock as _HarnessLock
from ..sync.lock import _real_lock
from ..sync.threads import _real_start_new_thread
from ..sync.vtime import _real_perf_counter as _clock
from ..sync.vtime import _real_sleep as _sleep
from .history import POST, CallRecord

#: Real seconds one spec call may run before the check stops with ``SpecCallStuck``.
SPEC_CALL_SECONDS = 10.0
#: How often (real seconds) the watching thread looks at the helper.
_POLL = 0.02

_LOCK_ACQUIRE = _HarnessLock.acquire.__code__


class SpecCallStuck(InconclusiveError):
    """A call of the sequential spec, run alone by the linearizability search, blocked or did not return."""


class _Stop(BaseException):
    """Raised in a spinning helper to end it (it is abandoned: the next search starts another)."""


class Watch:
    """Where the search is: the spec call running now (set by ``Model.run``) and since when."""

    __slots__ = ("call", "since", "name")

    def __init__(self) -> None:
        self.call: Optional[CallRecord] = None
        self.since = 0.0
        self.name = ""


def _parked_for_ever(frame: Any) -> bool:
    """Whether the helper waits, with no timeout, for a harness Lock that is held.

    The helper is the only thread that uses the spec's objects, so the holder is the helper
    itself: the lock is never released (a Condition's wait, a Queue's get, a second acquire).
    """
    if frame is None or frame.f_code is not _LOCK_ACQUIRE:
        return False
    loc = frame.f_locals
    lock = loc.get("self")
    return bool(loc.get("blocking", True)) and loc.get("timeout", -1) == -1 and lock is not None and \
        lock._real.locked()




def _where(frame: Any) -> str:
    """The helper's innermost frames outside interleave, most recent last, as 'file:line in function'."""
    out: List[str] = []
    while frame is not None and len(out) < 6:
        code = frame.f_code
        if not code.co_filename.startswith(HARNESS_DIR):
            out.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        frame = frame.f_back
    return "\n".join(f"    {line}" for line in reversed(out)) or "    (no frame outside interleave)"


def _describe(watch: Watch) -> str:
    call = watch.call
    if call is None:
        return "the spec"
    if call.column == POST:
        return "post()"
    return f"{watch.name}({', '.join(map(repr, call.args))})"


class _SigintWatch:
    """Ctrl-C while the run's thread waits for the search.

    The session's handler only records a Ctrl-C for the run's next switch point, which does not
    come while the search hangs: this one records it here as well, and the wait raises
    ``KeyboardInterrupt``. A Ctrl-C taken by the session's handler before this one was set is
    read from the session (its ``interrupted_at``).
    """

    def __init__(self) -> None:
        self.old: Any = None
        self.seen = False
        self.set = False

    def interrupted(self) -> bool:
        """Take Ctrl-C over (the first time); whether one came."""
        if not self.set:
            self.set = True
            try:  # signal.signal raises ValueError off the main thread: then Ctrl-C is not ours
                old = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, self._on_sigint)
                self.old = old
            except (ValueError, TypeError):
                return False
            if getattr(getattr(old, "__self__", None), "interrupted_at", None) is not None:
                self.seen = True
        return self.seen

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.seen = True
        old = self.old
        if callable(old) and old is not signal.default_int_handler:
            old(signum, frame)  # the session's: it records the Ctrl-C too

    def restore(self) -> None:
        """Put the previous handler back."""
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
            self.old = None


class _Helper:
    """One OS thread that runs searches handed to it, one at a time (a thread per search costs more)."""

    def __init__(self) -> None:
        self.go = _real_lock()
        self.go.acquire()
        self.done = _real_lock()
        self.done.acquire()
        self.job: Optional[Callable[[], bool]] = None
        self.box: Dict[str, Any] = {}
        self.pid = os.getpid()
        self.abandoned = False
        self.ident = _real_start_new_thread(self._loop, ())

    def _loop(self) -> None:
        try:
            while True:
                self.go.acquire()
                job = self.job
                if job is None:
                    return
                try:
                    self.box = {"value": job()}
                except BaseException as exc:  # noqa: BLE001 - handed to the watching thread
                    self.box = {"error": exc}
                if self.abandoned:
                    return
                self.done.release()
        except BaseException:  # noqa: BLE001 - a late _Stop: this helper is abandoned anyway
            return


_helper: Optional[_Helper] = None


def run_alone(search: Callable[[], bool], watch: Watch) -> bool:
    """``search()`` on a helper OS thread; its result, or ``SpecCallStuck`` when a spec call hangs."""
    global _helper
    helper = _helper
    if helper is None or helper.pid != os.getpid():  # none yet, abandoned, or lost in a fork
        helper = _helper = _Helper()
    watch.call = None
    watch.since = _clock()
    helper.job = search
    helper.go.release()
    finished = parked = False
    sigint = _SigintWatch()
    try:
        while not helper.done.acquire(True, _POLL):
            # Most searches end within the first wait: only a longer one takes Ctrl-C over (the
            # swap costs as much as a short search).
            if sigint.interrupted():
                raise KeyboardInterrupt
            frame = sys._current_frames().get(helper.ident)
            parked = _parked_for_ever(frame)
            if parked:
                raise SpecCallStuck(
                    f"lincheck: {_describe(watch)} blocks when run alone on the sequential spec: it waits for "
                    "a lock that only another call could release. The linearizability search runs the spec's "
                    "calls one at a time in every order the history allows, so an operation that waits for "
                    "another one (a get() on an empty queue) blocks for ever there. lincheck checks "
                    "operations that do not block: give the operation a form that returns or raises instead "
                    "of waiting (get_nowait(), get(timeout=0), acquire(blocking=False)).\n"
                    f"  where the spec waits:\n{_where(frame)}")
            if _clock() - watch.since > SPEC_CALL_SECONDS:
                raise SpecCallStuck(
                    f"lincheck: {_describe(watch)} did not return within {SPEC_CALL_SECONDS:g} s when run alone "
                    "on the sequential spec (it spins, or waits for something no other call does when the "
                    "calls run one at a time). lincheck checks operations that do not wait for each other: "
                    "give the operation a form that returns or raises instead of waiting.\n"
                    f"  where the spec was:\n{_where(frame)}")
        finished = True
    finally:
        helper.job = None
        sigint.restore()
        if not finished:  # stuck, or interrupted: that helper is still in the search; leave it
            _helper = None
            helper.abandoned = True
            if _spins(helper.ident, parked):
                _stop(helper.ident)
    box = helper.box
    helper.box = {}
    if "error" in box:
        raise box["error"]
    return bool(box["value"])


def _spins(ident: int, parked: bool) -> bool:
    """Whether the helper burns CPU (a spinning spec call) rather than waiting inside a C call.

    Only such a thread may be sent ``_Stop``: an asynchronous exception stays pending until its
    thread runs bytecode, and while one is pending CPython 3.11 spins for ever in the next
    ``signal.signal`` call of a traced thread (the session's own restore, pytest-timeout's alarm
    under coverage's tracer). The thread's CPU clock tells; where there is none, a thread not
    parked on a harness lock is taken to spin.
    """
    before = thread_cpu_seconds(ident)
    if before is None:
        return not parked
    _sleep(_POLL)
    after = thread_cpu_seconds(ident)
    return after is not None and after - before > _POLL / 4


def _stop(ident: int) -> None:
    """Raise ``_Stop`` in the helper (it ends at its next bytecode)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(_Stop))
