"""Reports of waiting threads: what each waits for, who holds it, where (deadlocks, early timeouts).

The wait queue a thread parks on is often an implementation detail (``Condition.wait`` parks on
a private waiter lock); the object the user called is found by walking the thread's frames
outward to the last standard-library synchronisation method before code under test.
"""

from __future__ import annotations

import os
from dataclasses import replace
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from ..instrument.filter import HARNESS_DIR, is_user_code_file
from .outcome import BlockedThread
from .vthread import BLOCKED, READY, VThread

#: When a pending timeout may run out: ``anytime`` (the earliest pending timeout may run out while
#: other threads could still run: a thread may be slow) or ``when-stuck`` (only when no thread can
#: run: timeouts are safety nets, and virtual time moves on only when every thread waits).
TIMEOUTS = ("anytime", "when-stuck")
#: What a sleeping thread waits for (its wait queue has no owner), and what a report says of a
#: sleep that ran out while other threads could still run.
SLEEP_END = "the end of its sleep"
SLEPT = "sleep"
#: What a thread that can run "waits for", in a report (a daemon thread the body left running).
READY_TO_RUN = "nothing: ready to run"


class Execution(Protocol):
    """What a deadlock report reads of the execution (``scheduling.Scheduling`` has it)."""

    threads: List[VThread]
    shutting_down: bool
    fn: Callable[[], Any]

# Standard-library modules whose methods users call to wait (file name tails).
_SYNC_FILES = (
    os.sep + "threading.py",
    os.sep + "queue.py",
    os.sep + os.path.join("concurrent", "futures", "_base.py"),
    os.sep + os.path.join("concurrent", "futures", "thread.py"),
)
_PRIVATE_WAITS = {"_wait_for_tstate_lock": "join"}
# Methods of those modules that block; the thread's own bootstrap and run() do not count.
_WAITS = frozenset({"wait", "wait_for", "acquire", "__enter__", "get", "put", "join", "result",
                    "exception", "shutdown", "_wait_for_tstate_lock"})


def _is_sync_frame(f: FrameType) -> bool:
    return f.f_code.co_filename.endswith(_SYNC_FILES)


def _site(f: FrameType) -> Tuple[str, int, str]:
    return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)


def _thread_name_by_ident(ex: Execution, ident: Any) -> Optional[str]:
    for vt in ex.threads:
        if vt.ident == ident:
            return display_name(vt)
    return None


def display_name(vt: VThread) -> str:
    """The thread's current name (user code may rename a Thread after it started)."""
    th = vt.thread
    name = getattr(th, "_name", None) if th is not None else None
    return name if isinstance(name, str) else vt.name


def _lock_holder(ex: Execution, lock: Any) -> Optional[str]:
    tid = getattr(lock, "_holder_tid", None)
    if isinstance(tid, int) and 0 <= tid < len(ex.threads):
        return display_name(ex.threads[tid])
    owner = getattr(lock, "_owner", None)  # threading's pure-Python RLock
    if owner is not None:
        return _thread_name_by_ident(ex, owner)
    real = getattr(lock, "_real", None)
    if tid is None and real is not None and real.locked():
        return "no thread of the run (held since before it started: by the test, or a real thread outside it)"
    return None


def _short_repr(obj: Any) -> str:
    return f"{type(obj).__name__} at {id(obj):#x}"


def _describe_call(ex: Execution, method: str, obj: Any) -> Tuple[str, Optional[str]]:
    """A wait on a standard-library object, and the thread holding what it needs, if any."""
    kind = type(obj).__name__
    call = f"with {kind}" if method == "__enter__" else f"{kind}.{method}()"
    if method == "join" and hasattr(obj, "_started") and hasattr(obj, "is_alive"):
        return f"thread {getattr(obj, 'name', '?')} to finish (Thread.join)", None
    if hasattr(obj, "_cond") and hasattr(obj, "_flag"):  # Event
        return f"{call} on {_short_repr(obj)} (not set)", None
    if hasattr(obj, "_cond") and hasattr(obj, "_value"):  # Semaphore / BoundedSemaphore
        return f"{call} on {_short_repr(obj)} (value {obj._value})", None
    if hasattr(obj, "_parties"):  # Barrier
        return (f"{call} on {_short_repr(obj)} ({getattr(obj, '_count', '?')} of "
                f"{obj._parties} parties waiting)"), None
    if hasattr(obj, "not_empty") and hasattr(obj, "mutex"):  # queue.Queue and subclasses
        state = {"get": "empty", "put": "full", "join": "unfinished tasks"}.get(method, "")
        return f"{call} on {_short_repr(obj)}" + (f" ({state})" if state else ""), None
    if hasattr(obj, "_waiters") and hasattr(obj, "_lock"):  # Condition
        return f"{call} on {_short_repr(obj)}", _lock_holder(ex, obj._lock)
    if hasattr(obj, "_owner") and hasattr(obj, "_block"):  # pure-Python RLock
        return f"{call} on {_short_repr(obj)}", _lock_holder(ex, obj)
    return f"{call} on {_short_repr(obj)}", None


def describe(ex: Execution, vt: VThread, frame: Optional[FrameType]) -> Dict[str, Any]:
    """Fields of a BlockedThread for ``vt``, whose innermost frame is ``frame``."""
    queue = vt.queue
    owner = queue.owner if queue is not None else None
    waits_for = queue.describe if queue is not None else "?"
    holder = _lock_holder(ex, owner) if owner is not None else None
    if isinstance(owner, VThread):
        waits_for = f"thread {display_name(owner)} to finish"
    outer_sync: Optional[FrameType] = None
    where: Optional[Tuple[str, int, str]] = None
    first_outside: Optional[FrameType] = None
    f = frame
    while f is not None:
        filename = f.f_code.co_filename
        if filename.startswith(HARNESS_DIR):
            f = f.f_back
            continue
        if first_outside is None:
            first_outside = f
        if is_user_code_file(filename):
            where = _site(f)
            break
        if _is_sync_frame(f):
            name = f.f_code.co_name
            if name in _WAITS and "self" in f.f_locals:
                outer_sync = f
        f = f.f_back
    if outer_sync is not None:
        name = outer_sync.f_code.co_name
        waits_for, sync_holder = _describe_call(ex, _PRIVATE_WAITS.get(name, name), outer_sync.f_locals["self"])
        holder = sync_holder
    if where is None:
        if ex.shutting_down and vt.tid == 0:
            code = getattr(ex.fn, "__code__", None)
            waits_for += " (non-daemon threads are joined when the body returns, as at interpreter exit)"
            if code is not None:
                where = (code.co_filename, code.co_firstlineno, code.co_name)
        elif outer_sync is not None or first_outside is not None:
            where = _site(outer_sync or first_outside)  # type: ignore[arg-type]
    if holder == display_name(vt) and outer_sync is not None:
        holder = None  # the private lock a Condition waiter holds while it sleeps
    return {"thread": display_name(vt), "tid": vt.tid, "waits_for": waits_for, "holder": holder, "where": where}


def waiting(ex: Any) -> Tuple[Tuple[BlockedThread, Optional[float]], ...]:
    """The waiting threads and when their waits time out (None: never), for a recorded step-limit report."""
    if ex.recorder is None:  # an exploration's run: only the report's replay needs them
        return ()
    return tuple((ex.describe_blocked(t), t.deadline) for t in ex.alive if t.state == BLOCKED)


def timed_out_early(ex: Any, t: VThread) -> Tuple[Tuple[BlockedThread, float], ...]:
    """``t``'s timed wait or sleep, about to run out, if other threads could still go on (else nothing).

    Nothing in the program made it run out: the schedule did, so a recorded run's report names
    it. A sleep that ends while another thread could still run is named too: a program that
    sleeps so that another thread gets there first fails that way, and the report says why.
    """
    queue = t.queue
    if queue is None or t.deadline is None:
        return ()
    if not any(x.state == READY for x in ex.alive):
        return ()
    b = ex.describe_blocked(t)
    if queue.owner is None:  # a sleep: what it is, from where
        b = replace(b, waits_for=SLEPT, holder=None)
    return ((b, t.deadline),)


def left_running(ex: Any, vt: VThread) -> BlockedThread:
    """Where a thread still alive is: what it waits for, or that it could run (woken, or not run yet)."""
    b = ex.describe_blocked(vt)
    return b if vt.state == BLOCKED else replace(b, waits_for=READY_TO_RUN, holder=None)
