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
from types import FrameType
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from ..errors import ForeignPrimitiveError, InconclusiveError, RealBlockingError, StalledRunError
from ..instrument.filter import is_stdlib_file, is_user_code_file
from . import context
from .lingering_thread import WATCH_THREAD

#: Seconds without progress or CPU use before the run counts as blocked for real.
BLOCKED_SECONDS = float(os.environ.get("INTERLEAVE_BLOCKED_SECONDS", "2"))
#: Seconds of computing without progress before the run counts as stalled (``stall_timeout``).
STALL_SECONDS = float(os.environ.get("INTERLEAVE_STALL_SECONDS", "10"))
#: Seconds a Ctrl-C may wait for the run to take it by itself.
INTERRUPT_GRACE = 0.5

_real_lock = _thread.allocate_lock
_real_get_ident = _thread.get_ident
_real_monotonic = time.monotonic
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_async_exc.argtypes = [ctypes.c_ulong, ctypes.py_object]


class _Interrupted(InconclusiveError):
    """Raised asynchronously in the exploring thread; the execution swaps in the real error."""


class _Seen(NamedTuple):
    """What the watchdog saw last: the progress mark, since when, the CPU time then, runnable since."""

    mark: Optional[Tuple[Any, ...]]
    since: float
    cpu: Optional[float]
    ran: bool


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
        for name in ("SIGUSR2", "SIGUSR1"):
            signum = getattr(signal, name, None)
            # The C module's calls: the signal module's wrappers turn handlers into enum members,
            # several microseconds per exploration for nothing.
            if signum is not None and _signal.getsignal(signum) in (_signal.SIG_DFL, None):
                self.old_handler = _signal.signal(signum, self._on_signal)
                self.signum = signum
                return

    # ----------------------------------------------------------------- watching
    def _loop(self) -> None:
        shortest = min(t for t in (BLOCKED_SECONDS, self.stall_seconds, 1.0) if t > 0)
        tick = max(0.01, min(0.1, shortest / 5))
        seen = _Seen(None, _real_monotonic(), self._cpu(), False)
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
            return _Seen(None, now, self._cpu(), False)
        mark = _progress(ex)
        asked = self.interrupted()
        if asked is not None and now - asked >= INTERRUPT_GRACE and self.fired != mark:
            self._deliver(ex, mark, KeyboardInterrupt(), None)
            return seen
        if mark != seen.mark:
            return _Seen(mark, now, self._cpu(), False)
        if self.fired == mark:
            self._report_if_still_stuck(now)
            return seen
        stuck = now - seen.since
        cpu, cpu0 = self._cpu(), seen.cpu
        known = cpu is not None and cpu0 is not None
        # On a loaded machine a computing thread can get under a tenth of a CPU: the
        # kernel's run state tells waiting for a CPU from waiting for an event.
        ran = seen.ran or self._runnable()
        idle = known and not ran and cpu - cpu0 < 0.1 * stuck  # type: ignore[operator]
        # Busy is measured in CPU time where it can be: on a loaded machine the thread
        # gets a fraction of the wall clock, and a long but finite computation must not
        # be cut short because other processes ran.
        busy = cpu - cpu0 if known else stuck  # type: ignore[operator]
        if idle and 0 < BLOCKED_SECONDS <= stuck:
            self._fire(ex, mark, stuck, blocked=True)
        elif not idle and 0 < self.stall_seconds <= busy:
            self._fire(ex, mark, busy, blocked=False)
        return _Seen(seen.mark, seen.since, seen.cpu, ran)

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
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self.os_ident))
        except (AttributeError, OSError, ValueError, OverflowError):
            return None

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
        if block is None or block[0] != _progress(ex):
            return  # it moved on by itself in the meantime
        exc = block[1]
        ex.abort(exc)
        # A finally block may block for real again on the way out: that is new progress to watch.
        ex.interrupts += 1
        raise exc


# --------------------------------------------------------------------- diagnosis
def _kind(value: Any) -> Optional[str]:
    """What a real (non-cooperative) primitive is, and whether it is busy; None for others."""
    import queue
    import threading

    from .foreign import is_real_primitive

    if is_real_primitive(value):
        if hasattr(value, "locked"):
            return f"{type(value).__name__} ({'locked' if value.locked() else 'unlocked'})"
        if "RLock" in type(value).__name__:
            return f"RLock ({'held' if 'count=0' not in repr(value) else 'free'})"
        return f"{type(value).__name__} ({'empty' if value.empty() else 'not empty'})"
    inner = None
    if isinstance(value, threading.Condition):
        inner = value._lock  # type: ignore[attr-defined]
    elif isinstance(value, (threading.Event, threading.Semaphore, threading.Barrier)):
        inner = value._cond._lock  # type: ignore[union-attr]
    elif isinstance(value, queue.Queue):
        inner = value.mutex
    if inner is not None and is_real_primitive(inner):
        return f"{type(value).__name__} built on a real lock"
    return None


def _candidates(frame: Optional[FrameType]) -> List[str]:
    """Real primitives the blocked code can see, by name (the busy ones, if any is)."""
    out: List[Tuple[bool, str]] = []
    seen = set()
    f = frame
    depth = 0
    while f is not None and depth < 6:
        if not f.f_code.co_filename.startswith(_HERE):
            depth += 1
            scopes = [(n, v) for n, v in f.f_locals.items()]
            names = set(f.f_code.co_names)
            scopes += [(n, f.f_globals[n]) for n in names if n in f.f_globals]
            owner = f.f_locals.get("self")
            if owner is not None and isinstance(getattr(owner, "__dict__", None), dict):
                scopes += [(f"self.{n}", v) for n, v in owner.__dict__.items()]
            for name, value in _expand(scopes):
                if id(value) in seen:
                    continue
                kind = _kind(value)
                if kind is not None:
                    seen.add(id(value))
                    out.append((kind.endswith(("(locked)", "(held)")),
                                f"{name} = {kind} at {id(value):#x} (in {f.f_code.co_name})"))
        f = f.f_back
    busy = [text for is_busy, text in out if is_busy]
    return busy or [text for _, text in out]


def _expand(scopes: List[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
    """Names and values, plus the items of small tuples, lists and dicts among them."""
    out = list(scopes)
    for name, value in scopes:
        if isinstance(value, (tuple, list)) and len(value) <= 32:
            out += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        elif isinstance(value, dict) and len(value) <= 32:
            out += [(f"{name}[{k!r}]", v) for k, v in value.items()]
    return out


def _called_name(frame: Optional[FrameType]) -> Optional[str]:
    """The name of what the call a frame stopped at calls (``os.read``, ``sock.recv``), if known.

    The callable is pushed before its arguments: it is the first name loaded since the last
    call that completed before this one.
    """
    if frame is None:
        return None
    import dis

    chains: List[List[str]] = []
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset >= frame.f_lasti:
            break
        if ins.opname.startswith("CALL"):
            chains = []
        elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_FAST", "LOAD_FAST_CHECK"):
            chains.append([str(ins.argval)])
        elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and chains:
            chains[-1].append(str(ins.argval))
    return ".".join(chains[0]) if chains else None


def user_frame_site(frame: Optional[FrameType]) -> Optional[Tuple[str, int, str]]:
    """The innermost frame of code under test: (filename, line, function)."""
    f = frame
    while f is not None:
        if is_user_code_file(f.f_code.co_filename):
            return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None


def _where(ex: Any, frame: Optional[FrameType]) -> Tuple[str, Optional[FrameType]]:
    """The place the run is stuck, for a person: innermost code under test, else innermost Python."""
    site = user_frame_site(frame)
    inner = frame
    while inner is not None and inner.f_code.co_filename.startswith(_HERE):
        inner = inner.f_back
    import linecache

    where = "an unknown place"
    if site is not None:
        src = linecache.getline(site[0], site[1]).strip()
        where = f"{site[0]}:{site[1]} in {site[2]}" + (f"  `{src}`" if src else "")
    if inner is not None and (site is None or inner.f_code.co_filename != site[0]
                              or inner.f_lineno != site[1]):
        inside = f"{inner.f_code.co_filename}:{inner.f_lineno} in {inner.f_code.co_name}"
        where = inside if site is None else f"{where}, inside {inside}"
    thread = getattr(getattr(ex, "current", None), "name", "?")
    return f"virtual thread {thread} at {where}", inner


def library_of(frame: Optional[FrameType]) -> Optional[Tuple[str, str, int]]:
    """The installed library (or standard-library module) the code under test called into: name, file, line.

    The innermost such frame, searched from the blocked frame out to the first frame of code
    under test (beyond it are the thread's own machinery and the harness).
    """
    f = frame
    while f is not None:
        filename = f.f_code.co_filename
        if is_user_code_file(filename):
            return None  # the code under test called the blocking function itself
        if not filename.startswith(_HERE):
            parts = filename.replace("\\", "/").split("/")
            for marker in ("site-packages", "dist-packages"):
                if marker in parts:
                    i = len(parts) - 1 - parts[::-1].index(marker)
                    if i + 1 < len(parts):
                        top = parts[i + 1]
                        name = top[:-3] if top.endswith(".py") else top
                        return name, filename, f.f_lineno
            if not filename.startswith("<") and is_stdlib_file(filename):
                return str(f.f_globals.get("__name__", "?")), filename, f.f_lineno
        f = f.f_back
    return None


def _in_event_loop(frame: Optional[FrameType]) -> bool:
    """Whether the blocked call is an asyncio event loop's (its selector waiting for callbacks)."""
    f = frame
    while f is not None:
        if str(f.f_globals.get("__name__", "")).startswith("asyncio."):
            return True
        f = f.f_back
    return False


def describe_real_block(ex: Any, frame: Optional[FrameType], waited: float,
                        unadoptable: List[Tuple[str, Any]]) -> InconclusiveError:
    """The error for a run idle for real: a foreign primitive if one is busy in scope, else I/O."""
    where, inner = _where(ex, frame)
    call = _called_name(inner)
    names = _candidates(frame)
    busy = [n for n in names if "(locked)" in n or "(held)" in n]
    lib = library_of(frame)
    head = (f"interleave: inconclusive: the run blocked its OS thread for real ({waited:.1f} s without "
            f"progress or CPU use) in {where}" + (f", in a call to {call}()" if call else "")
            + (f", in library {lib[0]} ({lib[1]}:{lib[2]})" if lib else "") + ".")
    if busy or (call or "").rsplit(".", 1)[-1] in ("acquire", "wait", "join", "get", "put", "__enter__"):
        lines = [
            head,
            "A Lock, RLock, Condition, Event, Semaphore or Queue created before the run that interleave "
            "could not reach to make cooperative blocks like this: another virtual thread holds it, and "
            "cannot run while this one waits.",
        ]
        if names:
            lines.append("Real primitives in scope there: " + "; ".join(names) + ".")
        bound = [(p, v) for p, v in unadoptable if type(v).__name__ == "_SearchBound"]
        missed = [(p, v) for p, v in unadoptable if type(v).__name__ != "_SearchBound"]
        if missed:
            lines.append("Reached before the run but not made cooperative: "
                         + "; ".join(f"{p} ({type(v).__name__})" for p, v in missed[:5]) + ".")
        # Every module's globals (libraries too, instrumented or not) were already searched,
        # and naming a module in instrument= does not change what is searched: not advised.
        fix = ("Fix: create the object inside the test body (or pass it in), or hold it where interleave "
               "can swap it before the run: a module global, attribute, dict, list or set item, at any depth "
               "(not a tuple or frozenset, not a bound method's object, not a local of a running function, "
               "not an RLock another OS thread holds). Inside the run, threading/queue objects are cooperative.")
        if bound:
            fix += (f" The search of module globals stopped at its budget of {bound[0][1].budget} objects "
                    f"({bound[0][0]}): raise INTERLEAVE_ADOPT_BUDGET to search further.")
        lines.append(fix)
        return ForeignPrimitiveError("\n".join(lines))
    if _in_event_loop(frame):
        return RealBlockingError("\n".join([
            head,
            "An asyncio event loop is waiting in its selector (in the kernel) for a callback from another "
            "thread (asyncio.to_thread, run_in_executor, call_soon_threadsafe): interleave runs threads, not "
            "event loops, and while the loop waits for real no virtual thread can run to answer it. No "
            "verdict was reached: this is neither a pass nor a failure.",
            "Fix: explore the threaded code without the event loop (start the threads that to_thread or the "
            "executor would start in the test body itself), and test the coroutines with asyncio's own tools.",
        ]))
    lines = [
        head,
        "This is real I/O (a socket, pipe, subprocess, file lock or database), or a sleep or wait that "
        "does not go through threading, time or queue: interleave controls threads and virtual time, "
        "not the kernel. While one virtual thread waits in the kernel no other can run, so the thread "
        "that would answer it never does. No verdict was reached: this is neither a pass nor a failure.",
        "Fix: keep real I/O out of the threads under test (do it before starting them or after joining "
        "them), or replace it with an in-memory fake (a queue.Queue instead of a socket, an object "
        "instead of a database). See \"What interleave cannot control\" in the README.",
    ]
    return RealBlockingError("\n".join(lines))


def describe_stall(ex: Any, frame: Optional[FrameType], waited: float) -> StalledRunError:
    """The error for a run busy for a long time without reaching a switch point."""
    where, _inner = _where(ex, frame)
    return StalledRunError(
        f"interleave: inconclusive: the run computed for {waited:.1f} s without reaching a switch point, "
        f"in {where}.\n"
        "The code running there is not traced (a loop in C, or in a module that is not instrumented: "
        "the standard library and site-packages are not, unless named in instrument=[...]), so "
        "interleave cannot count its steps or end it at the step limit. No verdict was reached.\n"
        "Fix: if the loop is endless, that is the bug; if it is long but finite, raise stall_timeout= "
        "(or INTERLEAVE_STALL_SECONDS); to see its steps, add its module with instrument=[...]."
    )


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
