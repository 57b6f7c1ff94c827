"""The last-resort guard: an execution that stops making progress a switch point can see.

Inside a run every step of the code under test goes through a switch point, so a run that
stops reaching them is stuck where the harness cannot see: blocked in the kernel (real I/O, a
lock created before the run that interleave could not make cooperative, a real ``sleep``), or
computing in code that is not traced (a loop in C or in an uninstrumented library). A watchdog
thread notices and interrupts the thread running the exploration:

* idle (no CPU used) for ``BLOCKED_SECONDS``: blocked for real;
* busy for ``stall_seconds``: stalled.

It interrupts with a signal whose handler raises the error inside the blocked call (as Ctrl-C
does) when the exploration runs on the main thread, and with an asynchronous exception
otherwise (that one lands at the next bytecode: it stops a Python loop, not a call blocked in
the kernel, which only a signal can break; then the diagnosis is printed to stderr). Either way
the run ends as *inconclusive*: an :class:`~interleave.errors.InconclusiveError` that names the
thread, the line and what to do, never a pass or a failure.

It also backs up Ctrl-C: an interrupt that the run has not taken within a second (because it
is stuck in such code) is delivered the same way.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stubs: the C module under signal
import _thread
import ctypes
import os
import signal
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from ..errors import InconclusiveError, StalledRunError
from . import context
from .inconclusive import describe_held, describe_real_block, describe_stall
from .lingering_thread import WATCH_THREAD

#: Seconds without progress or CPU use before the run counts as blocked for real.
BLOCKED_SECONDS = float(os.environ.get("INTERLEAVE_BLOCKED_SECONDS", "2"))
#: Seconds of computing without progress before the run counts as stalled (``stall_timeout``).
STALL_SECONDS = float(os.environ.get("INTERLEAVE_STALL_SECONDS", "10"))
#: Seconds a Ctrl-C may wait for the run to take it by itself.
INTERRUPT_GRACE = 0.5

# The signal that breaks a real blocking call, first one free: real-time signals first, which
# programs almost never handle (SIGUSR1/SIGUSR2 are often taken, and a handler registered with
# faulthandler.register is invisible to getsignal: taking its signal would wipe it).
_RT = getattr(signal, "SIGRTMIN", None)
_SIGNALS = tuple(range(_RT + 8, _RT + 16) if _RT is not None and _RT + 16 <= signal.SIGRTMAX else ()) + tuple(
    s for s in (getattr(signal, "SIGUSR2", None), getattr(signal, "SIGUSR1", None)) if s is not None)

_real_lock = _thread.allocate_lock
_real_get_ident = _thread.get_ident
_real_monotonic = time.monotonic
_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_async_exc.argtypes = [ctypes.c_ulong, ctypes.py_object]


class TimeUp(BaseException):
    """The exploration's time budget ran out in the middle of an execution, which ends unjudged."""


class _Interrupted(InconclusiveError):
    """Raised asynchronously in the exploring thread; the execution swaps in the real error."""


class _Seen(NamedTuple):
    """What the watchdog saw since the progress mark last changed: the mark, since when, the CPU
    time then, how many looks, and in how many the kernel had the thread running or ready."""

    mark: Optional[Tuple[Any, ...]]
    since: float
    cpu: Optional[float]
    looks: int
    runnable: int


def _no_primitives() -> List[Tuple[str, Any]]:
    return []


def _never() -> Optional[float]:
    return None


def _progress(ex: Any) -> Tuple[Any, ...]:
    """Changes whenever the execution moves: a switch point, a grant step, a clock tick."""
    return (id(ex), ex.steps, ex.budget, ex.rec_left, ex.now, id(ex.current), len(ex.threads),
            ex.tearing_down, ex.teardown_left, ex.interrupts)


class Watchdog:
    """Watches one OS thread while it runs executions; interrupts it when it gets stuck."""

    def __init__(self, os_ident: int, unadoptable: Callable[[], List[Tuple[str, Any]]],
                 stall_seconds: float = STALL_SECONDS,
                 interrupted: Callable[[], Optional[float]] = lambda: None) -> None:
        self.os_ident = os_ident
        # The kernel's id of the watched thread, to read its run state (Linux): built in it.
        self.stat_path = _stat_path() if os_ident == _real_get_ident() else None
        self.unadoptable = unadoptable
        self.stall_seconds = stall_seconds
        self.interrupted = interrupted
        self.stop_lock = _real_lock()  # released by ``stop``: wakes the loop, which then ends
        self.stop_lock.acquire()
        # Held while the loop interrupts the thread, and by ``stop``: nothing is delivered after it.
        self.gate = _real_lock()
        self.stopped = False
        self.signum: Optional[int] = None
        self.old_handler: Any = None
        self.fired: Optional[Tuple[Any, ...]] = None
        self.reported = False
        self.pending: Optional[Tuple[float, str]] = None  # when a signal was sent, and its diagnosis
        #: When (``time.monotonic``) the time budget runs out: the execution then running stops at
        #: its next switch point with :class:`TimeUp`. The budget is also checked between
        #: executions; this bounds one that would run far past it (a loop that waits for real).
        self.deadline: Optional[float] = None
        #: The last look's wall and CPU time: a look that comes a whole ``stall_seconds`` late
        #: while the thread burnt that much CPU was kept out by a call that held the interpreter.
        self.last_look: Tuple[float, Optional[float]] = (_real_monotonic(), None)

    # ----------------------------------------------------------------- life cycle
    def start(self) -> None:
        """Arm the signal (main thread only) and start watching."""
        if BLOCKED_SECONDS <= 0 and self.stall_seconds <= 0:
            return
        self._arm_signal()
        WATCH_THREAD.run(self._loop)

    def stop(self) -> None:
        """Stop watching and put the signal handler back.

        It does not wait for the loop to end (on a busy machine the watching thread may wait
        milliseconds for a CPU, and every exploration would wait with it): once the gate is
        passed, the loop can no longer interrupt anything, and it ends when it next wakes.
        """
        with self.gate:
            self.stopped = True
            # The loop may look once more before it ends: nothing of the session for it to keep.
            self.unadoptable = _no_primitives
            self.interrupted = _never
        if self.stop_lock.locked():
            self.stop_lock.release()
        if self.signum is not None:
            _signal.signal(self.signum, self.old_handler)
            self.signum = None

    def _arm_signal(self) -> None:
        import threading

        if not hasattr(signal, "pthread_kill") or threading.main_thread().ident != self.os_ident:
            return
        for signum in _SIGNALS:
            # The C module's calls: the signal module's wrappers turn handlers into enum members,
            # several microseconds per exploration for nothing.
            if _signal.getsignal(signum) in (_signal.SIG_DFL, None):
                self.old_handler = _signal.signal(signum, self._on_signal)
                self.signum = signum
                return

    # ----------------------------------------------------------------- watching
    def _loop(self) -> None:
        shortest = min(t for t in (BLOCKED_SECONDS, self.stall_seconds, 1.0) if t > 0)
        tick = max(0.01, min(0.1, shortest / 5))
        seen = _Seen(None, _real_monotonic(), self._cpu(), 0, 0)
        self.last_look = (seen.since, seen.cpu)
        while not self.stop_lock.acquire(True, tick):
            seen = self._look(seen)

    def _look(self, seen: _Seen) -> _Seen:
        """One look at the watched thread; what it saw is all that is kept until the next.

        Nothing of the execution stays referred to between looks (``stop`` does not wait for the
        loop to end, and an execution holds the body's objects).
        """
        ex = context.active
        now = _real_monotonic()
        if ex is None or ex.os_ident != self.os_ident:
            return _Seen(None, now, self._cpu(), 0, 0)
        mark = _progress(ex)
        if self._held_out(now) and self.fired != mark:
            # At once and cheaply: the thread may take the interpreter back within milliseconds,
            # for as long again. Where it stands is looked up by the signal's handler.
            self._deliver(ex, mark, describe_held(ex, None, now - seen.since), None)
            return _Seen(mark, now, self._cpu(), 0, 0)
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            self.deadline = None
            ex.interrupt(TimeUp())  # as a Ctrl-C's handler does, but from this thread
        asked = self.interrupted()
        if asked is not None and now - asked >= INTERRUPT_GRACE and self.fired != mark:
            self._deliver(ex, mark, KeyboardInterrupt(), None)
            return seen
        if mark != seen.mark:
            return _Seen(mark, now, self._cpu(), 0, 0)
        if self.fired == mark:
            self._report_if_still_stuck(now)
            return seen
        stuck = now - seen.since
        cpu, cpu0 = self._cpu(), seen.cpu
        known = cpu is not None and cpu0 is not None
        # On a loaded machine a computing thread can get under a tenth of a CPU: the
        # kernel's run state tells waiting for a CPU from waiting for an event. It is counted
        # over the looks, not taken once: a loop that waits for real in short slices (an event
        # loop polling its selector against a clock that stands still) is caught running now
        # and then, and is blocked all the same.
        looks, runnable = seen.looks + 1, seen.runnable + self._runnable()
        idle = known and 2 * runnable < looks and cpu - cpu0 < 0.1 * stuck  # type: ignore[operator]
        # Busy is measured in CPU time where it can be: on a loaded machine the thread
        # gets a fraction of the wall clock, and a long but finite computation must not
        # be cut short because other processes ran.
        busy = cpu - cpu0 if known else stuck  # type: ignore[operator]
        if idle and 0 < BLOCKED_SECONDS <= stuck:
            self._fire(ex, mark, stuck, blocked=True)
        elif not idle and 0 < self.stall_seconds <= busy:
            self._fire(ex, mark, busy, blocked=False)
        return _Seen(seen.mark, seen.since, seen.cpu, looks, runnable)

    def _held_out(self, now: float) -> bool:
        """Whether this look came ``stall_seconds`` late because the watched thread held the
        interpreter lock for all that time, computing (a C call: ``sum(range(10**10))``). Such a
        call returns before the watchdog can run, so its progress mark has moved on."""
        cpu = self._cpu()
        then, cpu0 = self.last_look
        self.last_look = (now, cpu)
        stall = self.stall_seconds
        return 0 < stall <= now - then and cpu is not None and cpu0 is not None and cpu - cpu0 >= stall

    def _runnable(self) -> bool:
        """Whether the kernel has the watched thread running or ready to run (False if unknown)."""
        if self.stat_path is None:
            return False
        try:
            with open(self.stat_path, "rb") as f:
                stat = f.read()
        except OSError:
            self.stat_path = None
            return False
        # "pid (comm) S ...": the state follows the last ')' (comm may contain anything).
        state = stat.rfind(b")") + 2
        return stat[state:state + 1] == b"R"

    def _cpu(self) -> Optional[float]:
        return thread_cpu_seconds(self.os_ident)

    def _fire(self, ex: Any, mark: Tuple[Any, ...], waited: float, blocked: bool) -> None:
        frame = sys._current_frames().get(self.os_ident)
        if blocked:
            exc: InconclusiveError = describe_real_block(ex, frame, waited, self.unadoptable())
        else:
            exc = describe_stall(ex, frame, waited)
        self._deliver(ex, mark, exc, str(exc))

    def _report_if_still_stuck(self, now: float) -> None:
        """A call the signal cannot break (SQLite's busy wait sleeps in C until its own timeout).

        The error is raised when the call returns to Python; the person waiting is told now.
        """
        if self.reported or self.pending is None or now - self.pending[0] < INTERRUPT_GRACE:
            return
        self.reported = True
        sys.stderr.write(self.pending[1] + "\n(interleave: the blocked call does not return to Python when "
                         "interrupted; this error is raised as soon as it does, e.g. when the library's own "
                         "timeout ends)\n")
        sys.stderr.flush()

    def _deliver(self, ex: Any, mark: Tuple[Any, ...], exc: BaseException, message: Optional[str]) -> None:
        with self.gate:
            if not self.stopped:
                self._interrupt(ex, mark, exc, message)

    def _interrupt(self, ex: Any, mark: Tuple[Any, ...], exc: BaseException, message: Optional[str]) -> None:
        self.fired = mark
        ex.real_block = (mark, exc)
        if self.signum is not None:
            self.pending = None if message is None else (_real_monotonic(), message)
            signal.pthread_kill(self.os_ident, self.signum)
            return
        # Not the main thread: an exception that lands at the thread's next bytecode.
        _async_exc(self.os_ident, _Interrupted)
        if message is not None and not self.reported:
            self.reported = True
            sys.stderr.write(message + "\n(interleave interrupts this thread at its next bytecode; a call "
                             "blocked in the kernel can only be broken by a signal, which reaches the main "
                             "thread only: if the process stays blocked, run the test on the main thread)\n")
            sys.stderr.flush()

    def _on_signal(self, signum: int, frame: Any) -> None:
        ex = context.active
        if ex is None:
            return
        block = getattr(ex, "real_block", None)
        if block is None:
            return
        exc = block[1]
        held = getattr(exc, "held", None)
        if held is not None:
            exc = describe_held(ex, frame, held)  # here, where the call returned
        if block[0] != _progress(ex):
            # It moved on by itself in the meantime: a wait that ended is forgiven, but a call
            # that computed past ``stall_timeout`` did stall (the signal could only be taken once
            # it returned). The run ends at its next switch point, not inside whatever runs now.
            if isinstance(exc, StalledRunError) and ex.internal_error is None:
                ex.abort(exc)
            return
        if ex.interrupts and ex.internal_error is not None:
            # Interrupted before, and still stuck without having reached a switch point: code not
            # under test caught the error and went back to its wait or loop (a library's worker
            # that logs any Exception and reads again). Raising again would go on for ever; the
            # execution ends here instead, where nothing of the program can catch it.
            ex._stop()
        ex.abort(exc)
        # A finally block may block for real again on the way out: that is new progress to watch.
        ex.interrupts += 1
        raise exc


def _stat_path() -> Optional[str]:
    """``/proc`` file of the calling thread's scheduler state, where there is one (Linux)."""
    get_native_id = getattr(_thread, "get_native_id", None)
    if get_native_id is None:
        return None
    tid = get_native_id()
    if tid not in _stat_paths:
        # Once per kernel thread (a reused id names a thread with the same kind of file).
        path = f"/proc/self/task/{tid}/stat"
        _stat_paths[tid] = path if os.path.exists(path) else None
    return _stat_paths[tid]


_stat_paths: Dict[int, Optional[str]] = {}


def thread_cpu_seconds(ident: int) -> Optional[float]:
    """The CPU time the OS thread ``ident`` has used so far; None where the platform cannot tell."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except (AttributeError, OSError, ValueError, OverflowError):
        return None
