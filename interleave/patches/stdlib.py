"""The standard-library wiring: which names a run swaps for the cooperative models, per version."""

from __future__ import annotations

import _thread
import itertools
import queue
import signal
import sys
import threading
import time
from typing import Any, Callable, List

from ..instrument.patching import Patcher
from ..runtime.tstate import _find_local_offsets
from ..runtime.vthread import IDENT_BASE
from ..sync import event_loop, process_wide, vdatetime, vtime
from ..sync import threads as vthreads
from ..sync.lock import Lock
from ..versions import CURRENT
from .bound import swap_bound_names
from .late_asyncio import patch_asyncio_when_imported
from .table import asyncio_twins, declared_replacements


def install_runtime_patches(p: Patcher) -> None:
    """Point ``threading``, ``_thread``, ``time`` and ``queue`` at the cooperative models."""
    import _threading_local

    # First: the names other modules bound before the run. The patches below make their own
    # records of the real callables, which the search for new holders would otherwise go through.
    swap_bound_names(p)
    th = threading
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None:
        p.setattr(cft.ThreadPoolExecutor, "_counter", cft.ThreadPoolExecutor._counter)  # type: ignore[attr-defined]
    for module, name, primitive in declared_replacements():
        p.setattr(sys.modules[module], name, primitive)
    p.setattr(th, "_CRLock", None)  # threading.RLock() then builds the pure-Python _RLock on our Lock
    p.setattr(th, "get_ident", vthreads.get_ident)
    if hasattr(th, "get_native_id"):
        p.setattr(th, "get_native_id", vthreads.get_native_id)
    p.setattr(th, "_time", vtime.monotonic)
    p.setattr(th, "excepthook", vthreads.make_excepthook(th.excepthook))
    p.setattr(th, "_make_invoke_excepthook",
              vthreads.make_invoke_excepthook_factory(th._make_invoke_excepthook))  # type: ignore[attr-defined]
    p.setattr(th, "_register_atexit", vthreads.make_register_atexit(th._register_atexit))  # type: ignore[attr-defined]
    if not _find_local_offsets():
        # Without per-virtual-thread thread-state slots, C thread-locals would be shared.
        p.setattr(th, "local", _threading_local.local)
    if CURRENT.thread_handles:
        p.setattr(th, "_start_joinable_thread", vthreads.start_joinable_thread)
        p.setattr(th, "_ThreadHandle", vthreads.ThreadHandle)
        p.setattr(th, "_make_thread_handle", vthreads.make_thread_handle)
        p.setattr(_thread, "start_joinable_thread", vthreads.start_joinable_thread)
    else:
        p.setattr(th, "_start_new_thread", vthreads.start_new_thread)
        p.setattr(th, "_set_sentinel", vthreads.set_sentinel)
        # Under join and is_alive: the tstate lock of a virtual thread, without the Python calls
        # through threading's acquire/release/_stop (a private method no user code calls).
        p.setattr(th.Thread, "_wait_for_tstate_lock", vthreads.wait_for_tstate_lock)
        p.drop_added(th._shutdown_locks, lambda lock: isinstance(lock, Lock))  # type: ignore[attr-defined]
    p.setattr(signal, "signal", process_wide.signal_handler)
    p.setattr(sys, "_current_frames", vthreads.current_frames)
    for name in ("settrace_all_threads", "setprofile_all_threads"):
        if hasattr(th, name):
            p.setattr(th, name, getattr(process_wide, name))
    p.setattr(th, "_counter", itertools.count(1).__next__)
    # Before the registries, so that it is undone after them: a run's threads are taken out of
    # ``_limbo`` (a dict of Threads) and ``_dangling`` (a WeakSet) under the hash they went in with.
    p.setattr(th.Thread, "__hash__", _thread_hash)
    for registry in ("_active", "_limbo", "_dangling"):
        p.drop_added(getattr(th, registry), _virtual_thread)
    p.setattr(_thread, "start_new_thread", vthreads.start_new_thread)
    p.setattr(_thread, "get_ident", vthreads.get_ident)
    if hasattr(_thread, "get_native_id"):
        p.setattr(_thread, "get_native_id", vthreads.get_native_id)
    for name in ("sleep", "monotonic", "time", "perf_counter", "monotonic_ns", "time_ns", "perf_counter_ns"):
        p.setattr(time, name, getattr(vtime, name))
    for cls, name, entry in vdatetime.ENTRIES:
        p.set_type_entry(cls, name, entry)
    p.setattr(queue, "time", vtime.monotonic)
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None:
        # Held by submit() across a queue put, which is a switch point: it must be cooperative.
        p.setattr(cft, "_global_shutdown_lock", Lock())
        p.keep_contents(cft._threads_queues)  # type: ignore[attr-defined]
    patch_asyncio_when_imported(p, _asyncio_patches)


def _asyncio_patches(p: Patcher) -> None:
    """What asyncio needs inside a run (applied when the run starts, or when the run imports it)."""
    _per_thread_running_loops(p)
    _virtual_selector_waits(p)


def _per_thread_running_loops(p: Patcher) -> None:
    """asyncio's running loop per virtual thread: its pure-Python functions, not the C ones.

    The C accelerator caches the running loop per OS thread, which all virtual threads share:
    a second thread's ``asyncio.run`` saw the first one's loop running ("cannot be called from a
    running event loop"). The pure-Python twins asyncio keeps keep it in a ``threading.local``.
    Names bound elsewhere (``from asyncio import current_task``) are swapped with the other
    bound names (``table.add_asyncio``).
    """
    aio = sys.modules.get("asyncio")
    for module, name, c, py in asyncio_twins():
        p.setattr(module, name, py)
        if aio is not None and getattr(aio, name, None) is c:
            p.setattr(aio, name, py)


def _virtual_selector_waits(p: Patcher) -> None:
    """An asyncio loop that waits for its timers or another thread's callback waits in virtual time."""
    sel, base, events = (sys.modules.get(m) for m in ("selectors", "asyncio.base_events",
                                                       "asyncio.selector_events"))
    if sel is None or base is None or events is None:
        return
    run_once = base.BaseEventLoop._run_once.__code__
    for name in ("SelectSelector", "_PollLikeSelector", "PollSelector", "EpollSelector", "DevpollSelector",
                 "KqueueSelector"):
        cls = getattr(sel, name, None)
        if cls is not None and "select" in vars(cls):
            p.setattr(cls, "select", event_loop.virtual_select(cls.select, run_once))
    loop_cls = events.BaseSelectorEventLoop
    p.setattr(loop_cls, "_write_to_self", event_loop.waking_write_to_self(loop_cls._write_to_self))


def _virtual_thread(th: Any) -> bool:
    """A Thread object a run created: it ran as a virtual thread, or never ran at all."""
    ident = getattr(th, "_ident", None)
    return ident is None or IDENT_BASE <= ident < IDENT_BASE + 0x10000


class ExecutorModuleState:
    """``concurrent.futures.thread``'s module state, which every execution must find fresh.

    Its ``_python_exit`` hook (registered with threading's atexit at import) marks the module
    shut down and joins every worker: the interpreter runs it once, at exit. Each execution is
    a whole program run, so it runs at the end of each execution, and the flag and the worker
    registry are put back afterwards. A module first imported inside the run registered its
    hook with that execution; when the exploration ends it is registered for real, as the
    import would have done outside a run.
    """

    NAME = "concurrent.futures.thread"

    def __init__(self) -> None:
        self.module = sys.modules.get(self.NAME)
        self.shutdown = bool(getattr(self.module, "_shutdown", False))
        queues = getattr(self.module, "_threads_queues", None)
        self.queues = list(queues.items()) if queues is not None else []

    def begin_execution(self, atexits: List[Callable[[], Any]]) -> None:
        """Register the hook the interpreter holds for a module imported before this execution;
        hide the real workers from it."""
        cft = sys.modules.get(self.NAME)
        hook = getattr(cft, "_python_exit", None)
        if hook is not None:
            atexits.append(hook)
        queues = getattr(cft, "_threads_queues", None)
        if queues:
            # The workers of executors made before the run are real threads: the hook at the end
            # of the execution must not wake them with its None (they would end) or join them.
            queues.clear()

    def end_execution(self) -> None:
        """Put the module's shutdown flag and worker registry back."""
        cft = sys.modules.get(self.NAME)
        if cft is None:
            return
        mine = cft is self.module
        cft._shutdown = self.shutdown if mine else False  # type: ignore[attr-defined]
        queues = getattr(cft, "_threads_queues", None)
        if queues is not None:
            queues.clear()
            if mine:
                queues.update(self.queues)

    def close(self) -> None:
        """After patches are restored: a module imported during the run gets its real hook."""
        cft = sys.modules.get(self.NAME)
        if cft is None or cft is self.module:
            return
        hook = getattr(cft, "_python_exit", None)
        register = getattr(threading, "_register_atexit", None)
        if hook is not None and register is not None:
            try:
                register(hook)
            except RuntimeError:  # the interpreter is already shutting down
                pass


def reset_thread_names() -> None:
    """Threads are named Thread-1, Thread-2, ... afresh in every execution, and hash alike."""
    global _hashes
    # Fresh counters every time: checking whether one was used (``repr`` of a count) cost more
    # than making two new ones (0.7 against 0.4 microseconds, and 1.5 after a thread was named).
    threading._counter = itertools.count(1).__next__  # type: ignore[attr-defined]
    _hashes = itertools.count(1)
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None:
        # Worker names are "ThreadPoolExecutor-<n>_<k>" with n from a class-level counter.
        cft.ThreadPoolExecutor._counter = itertools.count().__next__  # type: ignore[attr-defined]


_hashes = itertools.count(1)


def _thread_hash(self: threading.Thread) -> int:
    """A Thread's hash inside a run: its rank in first-hash order, which the schedule fixes.

    By default a Thread hashes by address, so a set of threads (ThreadPoolExecutor keeps its
    workers in one and joins them in set order) iterates in an order that changes from one
    execution to the next and replays would diverge.
    """
    h = self.__dict__.get("_interleave_hash")
    if h is None:
        if not _virtual_thread(self):
            # A real thread (a pre-run pool's worker): it hashes as before and after the run, or
            # the weak registries that hold it (concurrent.futures' workers) would lose it.
            return object.__hash__(self)
        h = self.__dict__["_interleave_hash"] = next(_hashes)
    return h

