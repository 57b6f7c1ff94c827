"""The safety net for code that blocks the OS thread for real inside a run.

A lock created before the run that interleave could not make cooperative is a real lock: if
one virtual thread holds it across a switch point and another then takes it, the whole OS
thread blocks and nothing can ever release it. A watchdog thread notices that the thread
running the exploration has stopped both making progress and using CPU, and interrupts it
with a signal whose handler raises ``ForeignPrimitiveError`` inside the blocked call (as
Ctrl-C does). The message names the line, the real primitives in scope and the fix. Signals
reach the main thread only: elsewhere the watchdog prints the diagnosis to stderr instead.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import time
from types import FrameType
from typing import Any, Callable, List, Optional, Tuple

from ..errors import ForeignPrimitiveError
from . import context

#: Seconds without progress or CPU use before the run counts as blocked for real.
BLOCKED_SECONDS = float(os.environ.get("INTERLEAVE_BLOCKED_SECONDS", "5"))

_real_start = _thread.start_new_thread
_real_lock = _thread.allocate_lock
_real_get_ident = _thread.get_ident
_real_monotonic = time.monotonic
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _progress(ex: Any) -> Tuple[Any, ...]:
    """Changes whenever the execution moves: a switch point, a grant step, a clock tick."""
    return (id(ex), ex.steps, ex.budget, ex.rec_left, ex.now, id(ex.current), len(ex.threads),
            ex.tearing_down, ex.teardown_left, ex.interrupts)


class Watchdog:
    """Watches one OS thread while it runs executions; interrupts it if it blocks for real."""

    def __init__(self, os_ident: int, unadoptable: Callable[[], List[Tuple[str, Any]]]) -> None:
        self.os_ident = os_ident
        self.unadoptable = unadoptable
        self.stop_lock = _real_lock()
        self.stop_lock.acquire()
        self.done = _real_lock()
        self.done.acquire()
        self.signum: Optional[int] = None
        self.old_handler: Any = None
        self.fired: Optional[Tuple[Any, ...]] = None
        self.reported = False

    # ----------------------------------------------------------------- life cycle
    def start(self) -> None:
        """Arm the signal (main thread only) and start watching."""
        if BLOCKED_SECONDS <= 0:
            self.done.release()
            return
        self._arm_signal()
        # A raw thread: no entry in threading's registries, nothing to restore afterwards.
        _real_start(self._loop, ())

    def stop(self) -> None:
        """Stop watching and put the signal handler back."""
        if self.stop_lock.locked():
            self.stop_lock.release()
            self.done.acquire()
        if self.signum is not None:
            signal.signal(self.signum, self.old_handler)
            self.signum = None

    def _arm_signal(self) -> None:
        import threading

        if not hasattr(signal, "pthread_kill") or threading.main_thread().ident != self.os_ident:
            return
        for name in ("SIGUSR2", "SIGUSR1"):
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) in (signal.SIG_DFL, None):
                self.old_handler = signal.signal(signum, self._on_signal)
                self.signum = signum
                return

    # ----------------------------------------------------------------- watching
    def _loop(self) -> None:
        try:
            tick = max(0.01, min(0.25, BLOCKED_SECONDS / 5))
            last: Optional[Tuple[Any, ...]] = None
            since = _real_monotonic()
            cpu = self._cpu()
            while not self.stop_lock.acquire(True, tick):
                ex = context.active
                now = _real_monotonic()
                if ex is None or ex.os_ident != self.os_ident:
                    last, since, cpu = None, now, self._cpu()
                    continue
                mark = _progress(ex)
                used = self._cpu()
                computing = cpu is not None and used is not None and used - cpu > 0.1 * (now - since)
                if mark != last or computing:
                    last, since, cpu = mark, now, used
                    continue
                if now - since >= BLOCKED_SECONDS and self.fired != mark:
                    self._fire(ex, mark, now - since)
        finally:
            self.done.release()

    def _cpu(self) -> Optional[float]:
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self.os_ident))
        except (AttributeError, OSError, ValueError, OverflowError):
            return None

    def _fire(self, ex: Any, mark: Tuple[Any, ...], waited: float) -> None:
        frame = sys._current_frames().get(self.os_ident)
        message = describe_real_block(ex, frame, waited, self.unadoptable())
        self.fired = mark
        ex.real_block = (mark, message)
        if self.signum is not None:
            signal.pthread_kill(self.os_ident, self.signum)
        elif not self.reported:
            self.reported = True
            sys.stderr.write(message + "\n(interleave cannot interrupt a thread other than the main "
                             "thread: the process stays blocked)\n")
            sys.stderr.flush()

    def _on_signal(self, signum: int, frame: Any) -> None:
        ex = context.active
        if ex is None:
            return
        block = getattr(ex, "real_block", None)
        if block is None or block[0] != _progress(ex):
            return  # it moved on by itself in the meantime
        exc = ForeignPrimitiveError(block[1])
        ex.abort(exc)
        # A finally block may block for real again on the way out: that is new progress to watch.
        ex.interrupts += 1
        raise exc


# --------------------------------------------------------------------- diagnosis
def _kind(value: Any) -> Optional[str]:
    """What a real (non-cooperative) primitive is, and whether it is busy; None for others."""
    import queue
    import threading

    from ..instrument.patching import is_real_primitive

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
        inner = value._cond._lock  # type: ignore[attr-defined]
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


def describe_real_block(ex: Any, frame: Optional[FrameType], waited: float,
                        unadoptable: List[Tuple[str, Any]]) -> str:
    """The error message: who blocked where, on what, and how to fix it."""
    from .execution import user_frame_site

    site = user_frame_site(frame)
    inner = frame
    while inner is not None and inner.f_code.co_filename.startswith(_HERE):
        inner = inner.f_back
    import linecache

    where = "an unknown place"
    if site is not None:
        src = linecache.getline(site[0], site[1]).strip()
        where = f"{site[0]}:{site[1]} in {site[2]}" + (f"  `{src}`" if src else "")
    elif inner is not None:
        where = f"{inner.f_code.co_filename}:{inner.f_lineno} in {inner.f_code.co_name}"
    thread = getattr(getattr(ex, "current", None), "name", "?")
    lines = [
        f"interleave: the run blocked its OS thread for real ({waited:.1f} s without progress) in "
        f"virtual thread {thread} at {where}.",
        "Only a primitive interleave does not control blocks like this: a Lock, RLock, Condition, "
        "Event, Semaphore or Queue created before the run that interleave could not reach to make "
        "cooperative (another virtual thread holds it, and cannot run while this one waits), or "
        "real I/O.",
    ]
    names = _candidates(frame)
    if names:
        lines.append("Real primitives in scope there: " + "; ".join(names) + ".")
    if unadoptable:
        lines.append("Reached before the run but not made cooperative: "
                     + "; ".join(f"{p} ({type(v).__name__})" for p, v in unadoptable[:5]) + ".")
    lines.append(
        "Fix: create the object inside the test body, or keep it where interleave can swap it "
        "(a module global or class attribute of the code under test, an attribute, dict or list "
        "item of something the body closes over; not a tuple or set), or add its module with "
        "instrument=[...]. Inside the run, threading/queue objects are cooperative."
    )
    return "\n".join(lines)
