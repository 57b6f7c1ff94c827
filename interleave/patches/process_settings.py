"""What code under test can change for the whole process, as the run found it: put back when it ends.

The body runs in the caller's process, and some of what it may set is not per thread or per
execution: tracers, ``sys.monitoring`` tools and threading's hooks for new threads, ``random``'s global generator, the
garbage collector's switch, signal handlers and the signal mask, child processes. Everything
is captured before the run changes anything and put back once it is over, whatever happened;
the settings that would change how the next execution runs are also put back between them.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: no enum wrapping, a tenth of the cost
import _thread
import gc
import os
import random
import signal
import sys
import threading
import time
from typing import Any, Dict, Optional, Set

from .monitoring_tools import MonitoringTools

_VALID = tuple(signal.valid_signals())
# Bound at import, before any run: inside one the modules' names are the virtual ones.
_native_id = getattr(_thread, "get_native_id", None)
_monotonic, _sleep = time.monotonic, time.sleep


class ProcessSettings:
    """The process-wide settings a run may change, captured before it starts."""

    def __init__(self) -> None:
        self.handlers: Dict[int, Any] = {}
        for signum in _VALID:
            try:
                self.handlers[signum] = _signal.getsignal(signum)
            except (OSError, ValueError):  # not a signal this platform lets Python handle
                continue
        self.mask: Optional[Any] = None
        if hasattr(signal, "pthread_sigmask"):
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        self.children = _process_children()
        self.processes = _own_processes()
        # Kept in a generator of its own, not as getstate()'s tuple: 625 numbers in a young
        # tuple that every later exploration's scan for new holders would go through.
        self.random = random.Random.__new__(random.Random)  # not seeded: set at once
        self.random.setstate(random.getstate())
        self.trace = sys.gettrace()
        self.profile = sys.getprofile()
        self.thread_hooks = (threading._trace_hook, threading._profile_hook)  # type: ignore[attr-defined]
        self.gc_enabled = gc.isenabled()
        self.monitoring = MonitoringTools()

    def between_executions(self) -> None:
        """Undo what an execution set that would change how the next one runs.

        ``gc.enable()`` would let the collector run finalizers inside later executions (the run
        collects between them instead); ``threading.settrace``/``setprofile`` would hand a tracer
        to every thread later executions start.
        """
        if gc.isenabled():
            gc.disable()
        if (threading._trace_hook, threading._profile_hook) != self.thread_hooks:  # type: ignore[attr-defined]
            threading._trace_hook, threading._profile_hook = self.thread_hooks  # type: ignore[attr-defined]
        self.monitoring.between_executions()

    def put_back(self, *, skip_signals: Any = ()) -> None:
        """Restore everything captured: processes the run left running are stopped first."""
        try:
            _end_new_children(self.children)
            _end_new_processes(self.processes)
        finally:
            if sys.gettrace() is not self.trace:
                sys.settrace(self.trace)
            if sys.getprofile() is not self.profile:
                sys.setprofile(self.profile)
            self.monitoring.put_back()
            threading._trace_hook, threading._profile_hook = self.thread_hooks  # type: ignore[attr-defined]
            random.setstate(self.random.getstate())
            (gc.enable if self.gc_enabled else gc.disable)()
            self._put_back_signals(skip_signals)

    def _put_back_signals(self, skip: Any) -> None:
        # A blocked SIGINT would make later Ctrl-Cs do nothing. Handlers set from C, which Python
        # cannot name (getsignal says None), stay as they are.
        if self.mask is not None and signal.pthread_sigmask(signal.SIG_BLOCK, []) != self.mask:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
        for signum, handler in self.handlers.items():
            if handler is None or signum in skip:
                continue
            try:
                if _signal.getsignal(signum) != handler:
                    _signal.signal(signum, handler)
            except (OSError, ValueError):  # not the main thread: handlers cannot change here
                return


def _process_children() -> Set[Any]:
    """The ``multiprocessing`` processes this process has started and not yet joined."""
    mp = sys.modules.get("multiprocessing.process")
    return set(getattr(mp, "_children", ())) if mp is not None else set()


def _end_new_children(before: Set[Any]) -> None:
    """Stop the processes the run started and left running (a process pool of an inconclusive run).

    Nothing joins them once the run is over, and ``multiprocessing`` waits for each at interpreter
    exit: the process would never end.
    """
    for proc in _process_children() - before:
        try:
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                    proc.join(2.0)
        except Exception:  # noqa: BLE001, S110 - a process that cannot be stopped is left as it is
            pass


def _own_processes() -> Set[int]:
    """The pids of the processes this OS thread (which runs every virtual thread) started and that live.

    Read from the kernel's list of a thread's children (Linux; elsewhere none are known). With
    ``os.open``, a third of the cost of a file object: it is read twice per exploration.
    """
    if _native_id is None:
        return set()
    try:
        fd = os.open(f"/proc/self/task/{_native_id()}/children", os.O_RDONLY)
    except OSError:
        return set()
    try:
        return {int(pid) for pid in os.read(fd, 1 << 16).split()}
    except (OSError, ValueError):
        return set()
    finally:
        os.close(fd)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _end_new_processes(before: Set[int]) -> None:
    """Stop what the run started with ``subprocess`` or ``os.fork`` and left running (``sleep 77`` in a thread).

    They are not reaped here: the program's ``Popen`` object still does that, as it would have.
    """
    for pid in _own_processes() - before:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not _running(pid):
                break
            try:
                os.kill(pid, sig)
            except OSError:
                break
            deadline = _monotonic() + 2.0
            while _running(pid) and _monotonic() < deadline:
                _sleep(0.01)
