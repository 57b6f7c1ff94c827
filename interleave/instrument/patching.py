"""Install and restore, as one reversible step, everything a run swaps in the standard library."""

from __future__ import annotations

import _thread
import functools
import itertools
import queue
import sys
import threading
import time
import types
import weakref
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..runtime.tstate import _find_local_offsets
from ..sync import threads as vthreads
from ..sync import vtime
from ..sync.lock import Lock
from ..sync.simplequeue import SimpleQueue
from .filter import CodeFilter

PY = sys.version_info[:2]
_MISSING = object()
_REAL_LOCK_TYPES = (_thread.LockType,)
_REAL_RLOCK_TYPES = tuple(t for t in (getattr(_thread, "RLock", None),) if t is not None)


class Patcher:
    """Records every change it makes so that ``restore`` puts back exactly what was there."""

    def __init__(self) -> None:
        self._undo: List[Callable[[], None]] = []

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        old = obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__") else getattr(obj, name, _MISSING)

        def undo() -> None:
            if old is _MISSING:
                try:
                    delattr(obj, name)
                except AttributeError:
                    pass
            else:
                setattr(obj, name, old)

        setattr(obj, name, value)
        self._undo.append(undo)

    def keep_contents(self, container: Any) -> None:
        """Snapshot a registry (dict, set, list, WeakSet, weak dict) and restore its contents."""
        if isinstance(container, (dict, weakref.WeakKeyDictionary, weakref.WeakValueDictionary)):
            saved_items = list(container.items())

            def undo() -> None:
                container.clear()
                container.update(saved_items)
        elif isinstance(container, list):
            saved_list = list(container)

            def undo() -> None:
                container[:] = saved_list
        else:  # set, WeakSet
            saved_set = list(container)

            def undo() -> None:
                container.clear()
                for x in saved_set:
                    container.add(x)
        self._undo.append(undo)

    def setcell(self, cell: Any, value: Any) -> None:
        old = cell.cell_contents

        def undo() -> None:
            cell.cell_contents = old

        cell.cell_contents = value
        self._undo.append(undo)

    def restore(self) -> None:
        errors = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:  # noqa: BLE001 - restore everything we can, then report
                errors.append(exc)
        if errors:
            raise RuntimeError(f"interleave could not restore {len(errors)} patched names: {errors!r}")


def _real_to_virtual() -> Dict[int, Any]:
    """Identity map from a real standard-library callable to its controlled replacement."""
    pairs: List[Tuple[Any, Any]] = [
        (time.sleep, vtime.sleep), (time.monotonic, vtime.monotonic), (time.time, vtime.time),
        (time.perf_counter, vtime.perf_counter), (time.monotonic_ns, vtime.monotonic_ns),
        (time.time_ns, vtime.time_ns), (time.perf_counter_ns, vtime.perf_counter_ns),
        (_thread.allocate_lock, Lock), (_thread.get_ident, vthreads.get_ident),
    ]
    if PY >= (3, 13):
        pairs.append((_thread.LockType, Lock))
    pairs.append((queue.SimpleQueue, SimpleQueue))
    return {id(real): (real, virt) for real, virt in pairs}


def install_runtime_patches(p: Patcher) -> None:
    """Point ``threading``, ``_thread``, ``time`` and ``queue`` at the cooperative models."""
    import _threading_local

    th = threading
    p.setattr(th, "_allocate_lock", Lock)
    p.setattr(th, "Lock", Lock)
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
    if PY >= (3, 13):
        p.setattr(th, "_start_joinable_thread", vthreads.start_joinable_thread)
        p.setattr(th, "_ThreadHandle", vthreads.ThreadHandle)
        p.setattr(th, "_make_thread_handle", vthreads.make_thread_handle)
        p.setattr(_thread, "start_joinable_thread", vthreads.start_joinable_thread)
    else:
        p.setattr(th, "_start_new_thread", vthreads.start_new_thread)
        p.setattr(th, "_set_sentinel", vthreads.set_sentinel)
        p.keep_contents(th._shutdown_locks)  # type: ignore[attr-defined]
    p.setattr(th, "_counter", itertools.count(1).__next__)
    for registry in ("_active", "_limbo", "_dangling"):
        p.keep_contents(getattr(th, registry))
    p.setattr(_thread, "start_new_thread", vthreads.start_new_thread)
    p.setattr(_thread, "allocate_lock", Lock)
    p.setattr(_thread, "get_ident", vthreads.get_ident)
    if hasattr(_thread, "get_native_id"):
        p.setattr(_thread, "get_native_id", vthreads.get_native_id)
    for name in ("sleep", "monotonic", "time", "perf_counter", "monotonic_ns", "time_ns", "perf_counter_ns"):
        p.setattr(time, name, getattr(vtime, name))
    p.setattr(queue, "time", vtime.monotonic)
    p.setattr(queue, "SimpleQueue", SimpleQueue)
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None:
        # Held by submit() across a queue put, which is a switch point: it must be cooperative.
        p.setattr(cft, "_global_shutdown_lock", Lock())
        p.keep_contents(cft._threads_queues)  # type: ignore[attr-defined]


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
        """Register the hook the interpreter holds for a module imported before this execution."""
        cft = sys.modules.get(self.NAME)
        hook = getattr(cft, "_python_exit", None)
        if hook is not None:
            atexits.append(hook)

    def end_execution(self) -> None:
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
    """Threads are named Thread-1, Thread-2, ... afresh in every execution."""
    threading._counter = itertools.count(1).__next__  # type: ignore[attr-defined]


class PrimitiveAdopter:
    """Makes primitives created before the run cooperative while it lasts, where it can reach them.

    Reached: globals and class attributes of instrumented modules, and what the explored
    function closes over, is bound to or gets as arguments (and their attributes). A real
    lock cannot be changed in place, so the reference is swapped; objects built on locks
    (Condition, Event, Semaphore, Barrier, queue.Queue) get new internals in place.
    """

    def __init__(self, patcher: Patcher, code_filter: CodeFilter) -> None:
        self.p = patcher
        self.filter = code_filter
        self.map = _real_to_virtual()
        self.seen: set = set()
        self.adopted = 0

    def _replacement(self, value: Any) -> Any:
        if isinstance(value, _REAL_LOCK_TYPES):
            if value.locked():
                return _MISSING
            return Lock()
        if _REAL_RLOCK_TYPES and isinstance(value, _REAL_RLOCK_TYPES):
            if "owner=0" not in repr(value):
                return _MISSING
            return threading._PyRLock()  # type: ignore[attr-defined]
        pair = self.map.get(id(value))
        if pair is not None and pair[0] is value:
            return pair[1]
        return _MISSING

    def _retool(self, obj: Any) -> None:
        """Give a lock-based object built before the run cooperative internals."""
        key = id(obj)
        if key in self.seen:
            return
        self.seen.add(key)
        if isinstance(obj, threading.Condition):
            lock = obj._lock  # type: ignore[attr-defined]
            new = self._replacement(lock)
            if new is not _MISSING:
                # Same kind of lock in, same kind out: RLock-only methods exist on both or neither.
                self.p.setattr(obj, "_lock", new)
                for attr in ("acquire", "release", "_release_save", "_acquire_restore", "_is_owned"):
                    if attr in obj.__dict__ and hasattr(new, attr):
                        self.p.setattr(obj, attr, getattr(new, attr))
                self.adopted += 1
        elif isinstance(obj, (threading.Event, threading.Semaphore, threading.Barrier)):
            self._retool(obj._cond)  # type: ignore[attr-defined]
        elif isinstance(obj, queue.Queue):
            mutex = obj.mutex
            new = self._replacement(mutex)
            if new is not _MISSING:
                self.p.setattr(obj, "mutex", new)
                for attr in ("not_empty", "not_full", "all_tasks_done"):
                    self.p.setattr(obj, attr, threading.Condition(new))
                self.adopted += 1

    def _visit_mapping(self, owner: Any, names: Iterable[str], getter: Callable[[str], Any],
                       depth: int) -> None:
        for name in list(names):
            try:
                value = getter(name)
            except Exception:  # noqa: BLE001 - a property may raise; skip it
                continue
            new = self._replacement(value)
            if new is not _MISSING:
                try:
                    self.p.setattr(owner, name, new)
                    self.adopted += 1
                except (AttributeError, TypeError):
                    pass
                continue
            self._visit_object(value, depth)

    def _visit_object(self, value: Any, depth: int) -> None:
        if depth <= 0 or value is None or isinstance(value, (int, float, str, bytes, bool, type(len))):
            return
        if isinstance(value, (threading.Condition, threading.Event, threading.Semaphore,
                              threading.Barrier, queue.Queue)):
            self._retool(value)
            return
        if isinstance(value, (types.ModuleType, types.FunctionType, type)):
            return
        key = id(value)
        if key in self.seen:
            return
        self.seen.add(key)
        d = getattr(value, "__dict__", None)
        if isinstance(d, dict) and not isinstance(value, type):
            self._visit_mapping(value, d.keys(), d.__getitem__, depth - 1)

    def adopt_modules(self) -> None:
        for mod in list(sys.modules.values()):
            code_file = getattr(mod, "__file__", None)
            if not code_file or not isinstance(mod, types.ModuleType):
                continue
            if not self.filter.wants_file(code_file):
                continue
            d = mod.__dict__
            self._visit_mapping(mod, d.keys(), d.__getitem__, 2)
            for value in list(d.values()):
                if isinstance(value, type) and value.__module__ == mod.__name__:
                    cd = value.__dict__
                    self._visit_mapping(value, [k for k in cd if not k.startswith("__")], cd.__getitem__, 1)

    def adopt_callable(self, fn: Any, depth: int = 3) -> None:
        """Primitives reachable from the explored function's closure, defaults and arguments."""
        while True:
            if isinstance(fn, functools.partial):
                for a in fn.args:
                    self._visit_object(a, depth)
                for v in fn.keywords.values():
                    self._visit_object(v, depth)
                fn = fn.func
            elif isinstance(fn, types.MethodType):
                self._visit_object(fn.__self__, depth)
                fn = fn.__func__
            else:
                break
        if isinstance(fn, types.FunctionType):
            for cell in fn.__closure__ or ():
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                new = self._replacement(value)
                if new is not _MISSING:
                    self.p.setcell(cell, new)
                    self.adopted += 1
                else:
                    self._visit_object(value, depth)
            for value in fn.__defaults__ or ():
                self._visit_object(value, depth)


def adopt_prerun_primitives(p: Patcher, code_filter: CodeFilter, fn: Any, extra: Optional[Iterable[Any]] = None) -> int:
    """Make pre-existing primitives cooperative for the run; returns how many were adopted."""
    adopter = PrimitiveAdopter(p, code_filter)
    adopter.adopt_modules()
    adopter.adopt_callable(fn)
    for obj in extra or ():
        adopter._visit_object(obj, 3)
    return adopter.adopted
