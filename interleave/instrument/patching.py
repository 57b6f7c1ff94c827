"""Install and restore, as one reversible step, everything a run swaps in the standard library."""

from __future__ import annotations

import _thread
import functools
import itertools
import os
import queue
import re
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
from ..versions import CURRENT
from .filter import CodeFilter, is_stdlib_file

_MISSING = object()
_REAL_LOCK_TYPES = (_thread.LockType,)
_REAL_RLOCK_TYPES = tuple(t for t in (getattr(_thread, "RLock", None),) if t is not None)


class Patcher:
    """Records every change it makes so that ``restore`` puts back exactly what was there."""

    def __init__(self) -> None:
        self._undo: List[Callable[[], None]] = []

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        """Set an attribute, remembering what was there (or that nothing was)."""
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

    def drop_added(self, container: Any, ours: Callable[[Any], bool]) -> None:
        """On restore, take out of a registry what the run added and ``ours`` claims, nothing else.

        Real threads of the process (a pytest-timeout thread, a timer) keep coming and going
        in threading's registries while a run lasts: putting back a snapshot would resurrect
        the ones that ended and forget the ones that started.
        """
        if isinstance(container, dict):
            before_keys = set(map(id, container.values()))

            def undo() -> None:
                for key, value in list(container.items()):
                    if id(value) not in before_keys and ours(value):
                        container.pop(key, None)
        else:  # set, WeakSet
            before = set(map(id, container))

            def undo() -> None:
                for item in list(container):
                    if id(item) not in before and ours(item):
                        container.discard(item)
        self._undo.append(undo)

    def setitem(self, container: Any, key: Any, value: Any) -> None:
        """Set a dict or list item, remembering the old value."""
        old = container[key]

        def undo() -> None:
            container[key] = old

        container[key] = value
        self._undo.append(undo)

    def add_undo(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` when restoring (in reverse order of registration, like every change)."""
        self._undo.append(undo)

    def setcell(self, cell: Any, value: Any) -> None:
        """Set a closure cell, remembering the old content."""
        old = cell.cell_contents

        def undo() -> None:
            cell.cell_contents = old

        cell.cell_contents = value
        self._undo.append(undo)

    def restore(self) -> None:
        """Undo every change, newest first; report what could not be undone."""
        errors = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:  # noqa: BLE001 - restore everything we can, then report
                errors.append(exc)
        if errors:
            raise RuntimeError(f"interleave could not restore {len(errors)} patched names: {errors!r}")


def _real_to_virtual() -> Dict[int, Tuple[Any, Any]]:
    """Identity map from a real standard-library callable to its controlled replacement.

    Built once, at import, from the originals: after ``install_runtime_patches`` the modules'
    attributes are the replacements already, and a table read from them then maps nothing.
    """
    pairs: List[Tuple[Any, Any]] = [
        (vtime._real_sleep, vtime.sleep), (vtime._real_monotonic, vtime.monotonic), (vtime._real_time, vtime.time),
        (vtime._real_perf_counter, vtime.perf_counter), (vtime._real_monotonic_ns, vtime.monotonic_ns),
        (vtime._real_time_ns, vtime.time_ns), (vtime._real_perf_counter_ns, vtime.perf_counter_ns),
        (_thread.allocate_lock, Lock), (_thread.get_ident, vthreads.get_ident),
        (_thread.start_new_thread, vthreads.start_new_thread),
        (threading._CRLock or threading._PyRLock, threading._PyRLock),  # type: ignore[attr-defined]
    ]
    for name in ("allocate", "start_new"):  # old aliases, where this version still has them
        if hasattr(_thread, name):
            pairs.append((getattr(_thread, name), getattr(_thread, "allocate_lock" if name == "allocate"
                                                            else "start_new_thread")))
    if hasattr(_thread, "get_native_id"):
        pairs.append((_thread.get_native_id, vthreads.get_native_id))
    if CURRENT.thread_handles:
        pairs.append((_thread.LockType, Lock))
        pairs.append((_thread.start_joinable_thread, vthreads.start_joinable_thread))  # type: ignore[attr-defined]
    pairs.append((queue.SimpleQueue, SimpleQueue))
    table: Dict[int, Tuple[Any, Any]] = {}
    for real, virt in pairs:
        # An alias maps to its target's replacement.
        while id(virt) in table:
            virt = table[id(virt)][1]
        if real is not virt:
            table[id(real)] = (real, virt)
    return table


# Keyed by the identity of objects it keeps alive itself: complete, and the same for every run.
_REAL_TO_VIRTUAL = _real_to_virtual()


#: The harness itself and the test runner: their clocks and locks must stay real (timeouts,
#: deadlines, reporting), and interleave patches its own standard-library modules deliberately.
_HARNESS_PACKAGES = frozenset({
    "interleave", "interleave_pytest", "pytest", "_pytest", "pluggy", "hypothesis", "_hypothesis_pytestplugin",
    "_hypothesis_globals", "_hypothesis_ftz_detector", "xdist", "execnet", "pytest_timeout", "greenlet",
    "coverage", "_virtualenv", "threading", "_thread", "time", "queue", "_queue", "_threading_local",
    # pytest's own dependencies: terminal colours, ini parsing, import hooks of editable installs.
    "pygments", "iniconfig", "py", "_distutils_hack", "exceptiongroup", "tomli",
})


def _harness_module(name: Optional[str]) -> bool:
    """A module the run must leave alone (see ``_HARNESS_PACKAGES``); ``concurrent.futures.thread`` too."""
    if not isinstance(name, str):
        return False
    return (name.partition(".")[0] in _HARNESS_PACKAGES or name == "concurrent.futures.thread"
            or name.startswith("__editable__"))


def swap_bound_names(p: Patcher) -> int:
    """Swap every reference to a real clock, lock constructor or thread function bound before the run.

    ``from threading import Lock``, ``from time import monotonic``, ``now = time.monotonic`` at
    module level, ``def __init__(self, timer=time.monotonic)`` and an object that stored such a
    function all hold the real callable: patching the modules does not reach them. The holders
    are found with one ``gc.get_referrers`` pass over the real callables (a few milliseconds,
    whatever the number of modules), and their owners (the function of a defaults tuple, the
    class or object of a ``__dict__``) with a second; every swap is undone by the patcher.
    Returns how many references were swapped.
    """
    import gc

    reals = [real for real, _ in _REAL_TO_VIRTUAL.values()]
    modules: Dict[int, types.ModuleType] = {}
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        if isinstance(mod, types.ModuleType) and isinstance(d, dict):
            modules[id(d)] = mod
    table = _REAL_TO_VIRTUAL
    swapped = 0
    pending: List[Any] = []  # defaults tuples, class and instance dicts, cells: owners looked up below
    for holder in gc.get_referrers(*reals):
        if isinstance(holder, dict):
            mod = modules.get(id(holder))
            if mod is None:
                pending.append(holder)
            elif not _harness_module(mod.__name__):
                for key, value in list(holder.items()):
                    pair = table.get(id(value))
                    if pair is not None and pair[0] is value and isinstance(key, str):
                        p.setattr(mod, key, pair[1])
                        swapped += 1
        elif isinstance(holder, tuple) or type(holder).__name__ == "cell":
            pending.append(holder)
        elif not isinstance(holder, (list, types.FrameType)) and not _harness_module(type(holder).__module__):
            # An object whose attributes live inline (3.12+: no dict until asked for) refers to them itself.
            d = getattr(holder, "__dict__", None)
            if isinstance(d, dict):
                for key, value in list(d.items()):
                    if _virtual_of(value) is not value:
                        p.setitem(d, key, _virtual_of(value))
                        swapped += 1
    if not pending:
        return swapped
    wanted = {id(x) for x in pending}
    owners: List[Any] = []
    unknown = []
    for holder in pending:
        owner = _known_owner(holder)
        if owner is None:
            unknown.append(holder)
        else:
            owners.append(owner)
    if unknown:
        # A second pass over the heap, only for holders not seen before (new functions, objects).
        found = gc.get_referrers(*unknown)
        for owner in found:
            _remember_owner(owner, unknown)
        owners += found
    for owner in owners:
        if isinstance(owner, types.FunctionType):
            if _harness_module(owner.__module__):
                continue
            defaults = owner.__defaults__
            if defaults is not None and id(defaults) in wanted:
                new = tuple(_virtual_of(v) for v in defaults)
                if any(a is not b for a, b in zip(new, defaults)):
                    _set_defaults(p, owner, new)
                    swapped += 1
            kw = owner.__kwdefaults__
            if kw is not None and id(kw) in wanted:
                for key, value in list(kw.items()):
                    if _virtual_of(value) is not value:
                        p.setitem(kw, key, _virtual_of(value))
                        swapped += 1
            for cell in owner.__closure__ or ():
                if id(cell) in wanted:
                    try:
                        value = cell.cell_contents
                    except ValueError:
                        continue
                    if _virtual_of(value) is not value:
                        p.setcell(cell, _virtual_of(value))
                        swapped += 1
                        wanted.discard(id(cell))  # a cell shared by several functions: once
        elif isinstance(owner, type):
            if _harness_module(owner.__module__):
                continue
            for key, value in list(owner.__dict__.items()):
                if _virtual_of(value) is not value:
                    p.setattr(owner, key, _virtual_of(value))
                    swapped += 1
        else:
            d = getattr(owner, "__dict__", None)
            if (isinstance(d, dict) and id(d) in wanted and not isinstance(owner, types.ModuleType)
                    and not _harness_module(type(owner).__module__)):
                for key, value in list(d.items()):
                    if _virtual_of(value) is not value:
                        p.setitem(d, key, _virtual_of(value))
                        swapped += 1
    return swapped


# Which function, class or object holds a defaults tuple, closure cell or __dict__ found holding
# a real callable: looked up with a full heap pass, so remembered across explorations. Entries are
# weak (nothing is kept alive) and every answer is checked against the owner before it is used
# (``_holds``), so a stale or reused entry can only cost the heap pass, never a wrong answer.
_OWNERS: Dict[int, Any] = {}


def _holds(owner: Any, holder: Any) -> bool:
    if isinstance(owner, types.FunctionType):
        return (owner.__defaults__ is holder or owner.__kwdefaults__ is holder
                or any(c is holder for c in owner.__closure__ or ()))
    return getattr(owner, "__dict__", None) is holder if not isinstance(owner, type) \
        else owner.__dict__ == holder and holder is _class_dict(owner)


def _class_dict(cls: type) -> Any:
    import gc

    refs = [r for r in gc.get_referents(cls) if isinstance(r, dict)]
    return refs[0] if refs else None


def _forget_owner(key: int, _ref: Any) -> None:
    _OWNERS.pop(key, None)


def _known_owner(holder: Any) -> Any:
    ref = _OWNERS.get(id(holder))
    owner = ref() if ref is not None else None
    if owner is not None and _holds(owner, holder):
        return owner
    _OWNERS.pop(id(holder), None)
    return None


def _remember_owner(owner: Any, holders: List[Any]) -> None:
    if not isinstance(owner, (types.FunctionType, type)) and not hasattr(owner, "__dict__"):
        return
    for holder in holders:
        try:
            if _holds(owner, holder):
                _OWNERS[id(holder)] = weakref.ref(owner, functools.partial(_forget_owner, id(holder)))
        except TypeError:  # no weak references to this kind of object: looked up again next time
            pass


def _set_defaults(p: Patcher, fn: types.FunctionType, new: Tuple[Any, ...]) -> None:
    old = fn.__defaults__
    fn.__defaults__ = new

    def undo() -> None:
        fn.__defaults__ = old

    p.add_undo(undo)


def _virtual_of(value: Any) -> Any:
    pair = _REAL_TO_VIRTUAL.get(id(value))
    return pair[1] if pair is not None and pair[0] is value else value


def install_runtime_patches(p: Patcher) -> None:
    """Point ``threading``, ``_thread``, ``time`` and ``queue`` at the cooperative models."""
    import _threading_local

    th = threading
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None:
        p.setattr(cft.ThreadPoolExecutor, "_counter", cft.ThreadPoolExecutor._counter)  # type: ignore[attr-defined]
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
    if CURRENT.thread_handles:
        p.setattr(th, "_start_joinable_thread", vthreads.start_joinable_thread)
        p.setattr(th, "_ThreadHandle", vthreads.ThreadHandle)
        p.setattr(th, "_make_thread_handle", vthreads.make_thread_handle)
        p.setattr(_thread, "start_joinable_thread", vthreads.start_joinable_thread)
    else:
        p.setattr(th, "_start_new_thread", vthreads.start_new_thread)
        p.setattr(th, "_set_sentinel", vthreads.set_sentinel)
        p.drop_added(th._shutdown_locks, lambda lock: isinstance(lock, Lock))  # type: ignore[attr-defined]
    p.setattr(th, "_counter", itertools.count(1).__next__)
    # Before the registries, so that it is undone after them: a run's threads are taken out of
    # ``_limbo`` (a dict of Threads) and ``_dangling`` (a WeakSet) under the hash they went in with.
    p.setattr(th.Thread, "__hash__", _thread_hash)
    for registry in ("_active", "_limbo", "_dangling"):
        p.drop_added(getattr(th, registry), _virtual_thread)
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
    # Last: the names other modules bound before the run, to what the modules now hold.
    swap_bound_names(p)


def _virtual_thread(th: Any) -> bool:
    """A Thread object a run created: it ran as a virtual thread, or never ran at all."""
    from ..runtime.execution import IDENT_BASE

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
        """Register the hook the interpreter holds for a module imported before this execution."""
        cft = sys.modules.get(self.NAME)
        hook = getattr(cft, "_python_exit", None)
        if hook is not None:
            atexits.append(hook)

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
    global _next_thread_hash
    threading._counter = itertools.count(1).__next__  # type: ignore[attr-defined]
    _next_thread_hash = itertools.count(1).__next__
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None:
        # Worker names are "ThreadPoolExecutor-<n>_<k>" with n from a class-level counter.
        cft.ThreadPoolExecutor._counter = itertools.count().__next__  # type: ignore[attr-defined]


_next_thread_hash = itertools.count(1).__next__


def _thread_hash(self: threading.Thread) -> int:
    """A Thread's hash inside a run: its rank in first-hash order, which the schedule fixes.

    By default a Thread hashes by address, so a set of threads (ThreadPoolExecutor keeps its
    workers in one and joins them in set order) iterates in an order that changes from one
    execution to the next and replays would diverge.
    """
    h = self.__dict__.get("_interleave_hash")
    if h is None:
        h = self.__dict__["_interleave_hash"] = _next_thread_hash()
    return h


_RLOCK_STATE = re.compile(r"owner=(\d+) count=(\d+)")
_CONTAINER_LIMIT = 1000  # larger containers are data, not where locks live: not searched
_DATA_DEPTH = 3  # how many objects deep the search goes from what the body holds
_CALLABLE_LEVELS = 32  # callables held by callables (closures of closures...) followed this far
_VISIT_BUDGET = 250_000  # objects searched at most: a huge object graph must not stall the start
_MODULE_BUDGET = int(os.environ.get("INTERLEAVE_ADOPT_BUDGET", "100000"))  # of those, from module globals
_MODULE_DEPTH = 64  # "any depth" in practice: object graphs of module globals are bounded by the budget


# Values that hold no primitive (a module's functions hold only code and defaults: see
# ``swap_bound_names``); skipped before any other test, which keeps the search cheap.
_LEAF_TYPES = frozenset({type(None), int, float, complex, str, bytes, bool, types.BuiltinFunctionType,
                         types.ModuleType, types.CodeType, type(Ellipsis), type(NotImplemented),
                         types.WrapperDescriptorType, types.MethodDescriptorType, types.GetSetDescriptorType,
                         types.MemberDescriptorType, types.ClassMethodDescriptorType})
_LEAF_TYPES_IN_MODULES = _LEAF_TYPES | {types.FunctionType, property}


class _SearchBound:
    """Stands, among what was not made cooperative, for the part of the search the budget cut off."""

    def __repr__(self) -> str:
        return "<search budget reached>"
try:
    from _queue import SimpleQueue as _RealSimpleQueue
except ImportError:  # pragma: no cover - CPython always has it
    _RealSimpleQueue = None  # type: ignore[assignment,misc]


class PrimitiveAdopter:
    """Makes primitives created before the run cooperative while it lasts, where it can reach them.

    Reached: globals and class attributes of instrumented modules, and what the explored
    function closes over, is bound to, defaults to or gets as arguments (partial arguments, a
    bound method's object, a callable object's attributes, ``__wrapped__``, closures of the
    callables it holds), and their attributes, dict, list and set items. A real lock cannot be
    changed in place, so the reference is swapped where it is held (one cooperative twin per
    real object, so that every reference agrees); objects built on locks (Condition, Event,
    Semaphore, Barrier, queue.Queue) get new internals in place. What is reached but cannot be
    swapped (in a tuple or frozenset, a method's ``__self__``, or an RLock held by another OS
    thread) is remembered, to be named if the run ever blocks on it for real.
    """

    def __init__(self, patcher: Patcher, code_filter: CodeFilter) -> None:
        self.p = patcher
        self.filter = code_filter
        self.map = _REAL_TO_VIRTUAL
        self.seen: set = set()
        self.adopted = 0
        self.twins: Dict[int, Tuple[Any, Any]] = {}
        self.unadoptable: List[Tuple[str, Any]] = []
        self.conditions: List[Any] = []  # retooled Conditions (also inside Event, Semaphore, ...)
        self.initial: List[Tuple[Any, Tuple[Any, ...]]] = []  # twins and their state at the start
        self.caller_ident = _thread.get_ident()
        self._level = 0  # callables being followed, one inside another
        self._kept: Dict[int, bool] = {}  # sets whose contents the patcher already restores
        self._searched_modules: set = set()  # their classes' attributes are searched too
        self._in_modules = False

    def record_initial_state(self) -> None:
        """Remember each twin's lock state: every execution starts from it."""
        for _, new in self.twins.values():
            if isinstance(new, Lock):
                self.initial.append((new, (new._real.locked(), new._holder_tid)))
            elif isinstance(new, SimpleQueue):
                self.initial.append((new, ()))
            elif hasattr(new, "_block") and hasattr(new, "_owner"):
                b = new._block
                self.initial.append((new, (b._real.locked(), b._holder_tid, new._owner, new._count)))

    def reset_between_executions(self) -> None:
        """Undo what an execution's unwound threads left in objects that outlive it.

        A thread unwound at the end of an execution may still hold a twin lock (it stopped
        before its ``with`` block's exit), and waiters of dead threads stay queued: the next
        execution must not inherit either.
        """
        for new, state in self.initial:
            if isinstance(new, Lock):
                _reset_lock(new, state[0], state[1])
            elif isinstance(new, SimpleQueue):
                new._getters.waiters = []
            else:
                _reset_lock(new._block, state[0], state[1])
                new._owner, new._count = state[2], state[3]
        for cond in self.conditions:
            cond._waiters.clear()

    def _replacement(self, value: Any, path: str = "?") -> Any:
        """The cooperative twin of a real primitive (the same twin every time), or _MISSING."""
        if value is None or isinstance(value, (int, float, str, bytes, bool)):
            return _MISSING
        twin = self.twins.get(id(value))
        if twin is not None and twin[0] is value:
            return twin[1]
        new = self._make_twin(value, path)
        if new is not _MISSING:
            self.twins[id(value)] = (value, new)
        return new

    def _make_twin(self, value: Any, path: str) -> Any:
        if isinstance(value, _REAL_LOCK_TYPES):
            new = Lock()
            if value.locked():
                # Held when the run starts (by the test, or a real thread): so is the twin.
                new._real.acquire()
            return new
        if _REAL_RLOCK_TYPES and isinstance(value, _REAL_RLOCK_TYPES):
            m = _RLOCK_STATE.search(repr(value))
            owner, count = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            if count and owner != self.caller_ident:
                self.unadoptable.append((path, value))
                return _MISSING  # another OS thread holds it: nothing virtual can take it over
            new = threading._PyRLock()  # type: ignore[attr-defined]
            if count:
                # The body runs as the calling thread, which holds it: so does the body.
                new._block.acquire()
                new._block._holder_tid = 0
                new._owner = owner
                new._count = count
            return new
        if _RealSimpleQueue is not None and type(value) is _RealSimpleQueue:
            new = SimpleQueue()
            while True:
                try:
                    new._items.append(value.get_nowait())
                except queue.Empty:
                    break

            def give_back() -> None:
                while new._items:
                    value.put(new._items.popleft())

            self.p.add_undo(give_back)
            return new
        pair = self.map.get(id(value))
        if pair is not None and pair[0] is value:
            return pair[1]
        owner = getattr(value, "__self__", None)
        if isinstance(value, types.BuiltinMethodType) and owner is not None and is_real_primitive(owner):
            # ``lock.acquire`` kept as a callable: the same method of the owner's twin.
            twin = self._replacement(owner, path)
            if twin is not _MISSING and hasattr(twin, value.__name__):
                return getattr(twin, value.__name__)
        return _MISSING

    def _retool(self, obj: Any, path: str) -> None:
        """Give a lock-based object built before the run cooperative internals."""
        key = id(obj)
        if key in self.seen:
            return
        self.seen.add(key)
        if isinstance(obj, threading.Condition):
            lock = obj._lock  # type: ignore[attr-defined]
            new = self._replacement(lock, f"{path}._lock")
            if new is not _MISSING:
                # Same kind of lock in, same kind out: RLock-only methods exist on both or neither.
                self.p.setattr(obj, "_lock", new)
                for attr in ("acquire", "release", "_release_save", "_acquire_restore", "_is_owned"):
                    if attr in obj.__dict__ and hasattr(new, attr):
                        self.p.setattr(obj, attr, getattr(new, attr))
                self.adopted += 1
                self.conditions.append(obj)
        elif isinstance(obj, (threading.Event, threading.Semaphore, threading.Barrier)):
            self._retool(obj._cond, path)  # type: ignore[attr-defined]
        elif isinstance(obj, queue.Queue):
            mutex = obj.mutex
            new = self._replacement(mutex, f"{path}.mutex")
            if new is not _MISSING:
                self.p.setattr(obj, "mutex", new)
                for attr in ("not_empty", "not_full", "all_tasks_done"):
                    cond = threading.Condition(new)
                    self.p.setattr(obj, attr, cond)
                    self.conditions.append(cond)
                self.adopted += 1
        elif isinstance(obj, threading.Thread):
            # A Thread built before the run and started inside it waits on its own Event.
            self._visit_object(obj.__dict__.get("_started"), 1, f"{path}._started")

    def _adopt_at(self, setter: Callable[[Any], None], value: Any, depth: int, path: str) -> None:
        new = self._replacement(value, path)
        if new is not _MISSING:
            try:
                setter(new)
                self.adopted += 1
            except (AttributeError, TypeError):
                self.unadoptable.append((path, value))
                if isinstance(new, SimpleQueue) and _RealSimpleQueue is not None and type(value) is _RealSimpleQueue:
                    while new._items:  # the twin will not be used: its items go back at once
                        value.put(new._items.popleft())
                    self.twins.pop(id(value), None)
            return
        self._visit_object(value, depth, path)

    def _visit_mapping(self, owner: Any, names: Iterable[str], getter: Callable[[str], Any],
                       depth: int, path: str = "?", follow: bool = False) -> None:
        leaves = _LEAF_TYPES_IN_MODULES if self._in_modules else _LEAF_TYPES
        for name in list(names):
            try:
                value = getter(name)
            except Exception:  # noqa: BLE001 - a property may raise; skip it
                continue
            if type(value) in leaves:
                continue
            setter = functools.partial(self.p.setattr, owner, name)
            if follow:
                self._follow(setter, value, depth, f"{path}.{name}")
            else:
                self._adopt_at(setter, value, depth, f"{path}.{name}")

    def _visit_object(self, value: Any, depth: int, path: str = "?") -> None:
        if depth <= 0 or len(self.seen) >= _VISIT_BUDGET or type(value) in _LEAF_TYPES:
            return
        if value is None or isinstance(value, (int, float, str, bytes, bool, type(len))):
            return
        if isinstance(value, (threading.Condition, threading.Event, threading.Semaphore,
                              threading.Barrier, queue.Queue, threading.Thread)):
            self._retool(value, path)
            return
        if isinstance(value, types.ModuleType):
            return
        key = id(value)
        if key in self.seen:
            return
        self.seen.add(key)
        # The harness's own objects (a Hypothesis strategy a test module holds, pytest's config)
        # are large graphs that hold no lock of the program under test.
        if _harness_module(getattr(value if isinstance(value, (type, types.FunctionType)) else type(value),
                                   "__module__", None)):
            return
        if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
            # A worker the body closes over often closes over the lock itself. A module's
            # functions are code, not state: what they default to was swapped by name.
            if not self._in_modules:
                self.adopt_callable(value, depth - 1)
            return
        if isinstance(value, type):
            mod = sys.modules.get(value.__module__)
            code_file = getattr(mod, "__file__", None)
            if code_file and (value.__module__ in self._searched_modules or self.filter.wants_file(code_file)):
                cd = value.__dict__
                self._visit_mapping(value, [k for k in cd if not k.startswith("__")], cd.__getitem__,
                                    depth - 1, value.__qualname__)
            return
        leaves = _LEAF_TYPES_IN_MODULES if self._in_modules else _LEAF_TYPES
        if isinstance(value, dict):
            if len(value) <= _CONTAINER_LIMIT:
                for k, v in list(value.items()):
                    if type(v) in leaves:
                        continue
                    self._adopt_at(functools.partial(self.p.setitem, value, k), v, depth - 1, f"{path}[{k!r}]")
            return
        if isinstance(value, list):
            if len(value) <= _CONTAINER_LIMIT:
                for i, v in enumerate(list(value)):
                    if type(v) in leaves:
                        continue
                    self._adopt_at(functools.partial(self.p.setitem, value, i), v, depth - 1, f"{path}[{i}]")
            return
        if isinstance(value, set):
            if len(value) <= _CONTAINER_LIMIT:
                for v in list(value):
                    self._adopt_at(functools.partial(self._set_member, value, v), v, depth - 1, f"{path} item")
            return
        if isinstance(value, (tuple, frozenset)):
            if len(value) <= _CONTAINER_LIMIT:
                for i, v in enumerate(value):
                    if is_real_primitive(v):
                        self.unadoptable.append((f"{path}[{i}]", v))  # cannot be swapped in place
                    else:
                        self._visit_object(v, depth - 1, f"{path}[{i}]")
            return
        d = getattr(value, "__dict__", None)
        if isinstance(d, dict) and not isinstance(value, type):
            self._visit_mapping(value, d.keys(), d.__getitem__, depth - 1, path)
        slots = [n for c in type(value).__mro__ for n in _slot_names(c)]
        if slots:
            self._visit_mapping(value, slots, functools.partial(getattr, value), depth - 1, path)

    def adopt_modules(self) -> None:
        """Primitives reachable from the globals and class attributes of every module but the harness's.

        Libraries are searched too, instrumented or not: a lock a library created at import
        (a metrics registry, a module-level cache) is taken by the code under test however it
        runs, and a real one blocks the OS thread. The standard library is searched only where
        it is instrumented: its import-time locks (logging, importlib) serve the process, not
        the program under test. The search goes as deep as the objects go, within
        ``_MODULE_BUDGET`` objects; past it, what was not searched is named if the run blocks.
        """
        self._in_modules = True
        try:
            self._adopt_modules()
        finally:
            self._in_modules = False

    def _adopt_modules(self) -> None:
        start = len(self.seen)
        for mod in list(sys.modules.values()):
            if not isinstance(mod, types.ModuleType) or _harness_module(mod.__name__):
                continue
            code_file = getattr(mod, "__file__", None)
            if not code_file or not isinstance(code_file, str):
                continue
            if is_stdlib_file(code_file) and not self.filter.wants_file(code_file):
                continue
            if len(self.seen) - start >= _MODULE_BUDGET:
                self.unadoptable.append((f"module {mod.__name__} and others not searched", _SearchBound()))
                break
            self._searched_modules.add(mod.__name__)
            # The functions of code under test are followed (a lock as a default, in a closure);
            # a library's are not: that would cost most of the search for locks seldom kept there.
            self._in_modules = not self.filter.wants_file(code_file)
            d = mod.__dict__
            self._visit_mapping(mod, [k for k in d if not k.startswith("__")], d.__getitem__, _MODULE_DEPTH,
                                mod.__name__)

    def adopt_callable(self, fn: Any, depth: int = _DATA_DEPTH) -> None:
        """Primitives reachable from the explored function: what it is bound to, closes over, defaults to.

        Each reference is swapped where it is held (a partial's argument, a closure cell, a
        default, an attribute, a dict, list or set item), so a primitive handed to the body
        directly is adopted, not only one found inside another object. A callable held by a
        callable (a worker in a closure, ``partial.func``, ``__wrapped__``) is followed without
        spending depth, up to ``_CALLABLE_LEVELS`` levels: the depth bounds how far into data
        the search goes, and the callables are where the body's code gets its objects.
        """
        if depth <= 0 or self._level >= _CALLABLE_LEVELS or len(self.seen) >= _VISIT_BUDGET:
            return
        self.seen.add(id(fn))
        self._level += 1
        try:
            self._adopt_from_callable(fn, depth)
        finally:
            self._level -= 1

    def _adopt_from_callable(self, fn: Any, depth: int) -> None:
        if isinstance(fn, functools.partial):
            for i, a in enumerate(fn.args):
                self._follow(functools.partial(self._set_partial_arg, fn, i), a, depth, f"argument {i}")
            for k, v in list(fn.keywords.items()):
                self._follow(functools.partial(self.p.setitem, fn.keywords, k), v, depth, f"argument {k}")
            self._follow(functools.partial(self._set_partial_func, fn), fn.func, depth, "the partial's function")
            self._visit_attributes(fn, depth, "the partial")
        elif isinstance(fn, types.MethodType):
            owner = fn.__self__
            if is_real_primitive(owner):
                self.unadoptable.append(("self", owner))  # a method's __self__ cannot be rebound
            elif isinstance(owner, (types.FunctionType, types.MethodType, functools.partial)):
                self._follow(None, owner, depth, "self")
            else:
                self._visit_object(owner, depth, "self")
            self._follow(None, fn.__func__, depth, "the method's function")
        elif isinstance(fn, types.FunctionType):
            names = fn.__code__.co_freevars
            for name, cell in zip(names, fn.__closure__ or (), strict=False):
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                self._follow(functools.partial(self.p.setcell, cell), value, depth, name)
            for i, value in enumerate(fn.__defaults__ or ()):
                self._follow(functools.partial(self._set_default, fn, i), value, depth, f"default {i}")
            kwdefaults = fn.__kwdefaults__
            for k, v in list((kwdefaults or {}).items()):
                self._follow(functools.partial(self.p.setitem, kwdefaults, k), v, depth, f"default {k}")
            self._visit_attributes(fn, depth, fn.__qualname__)  # __wrapped__ and other attributes
        else:  # a callable object: its attributes are what its __call__ uses
            self.seen.discard(id(fn))
            self._visit_object(fn, depth, "the body")

    def _visit_attributes(self, obj: Any, depth: int, path: str) -> None:
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict) and d:
            self._visit_mapping(obj, d.keys(), d.__getitem__, depth, path, follow=True)

    def _follow(self, setter: Optional[Callable[[Any], None]], value: Any, depth: int, path: str) -> None:
        """Swap ``value`` where it is held, or search it; a callable is followed at the same depth."""
        if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
            if id(value) not in self.seen:
                self.adopt_callable(value, depth)
        elif setter is None:
            if is_real_primitive(value):
                self.unadoptable.append((path, value))
            else:
                self._visit_object(value, depth, path)
        else:
            self._adopt_at(setter, value, depth, path)

    def _set_partial_arg(self, part: functools.partial, index: int, value: Any) -> None:
        """A partial's arguments are a tuple, but its whole state can be set in place."""
        func, args, keywords, attrs = part.__reduce__()[2]  # type: ignore[misc]
        part.__setstate__((func, args[:index] + (value,) + args[index + 1:], keywords, attrs))
        self.p.add_undo(lambda: part.__setstate__((part.func, args, part.keywords, part.__reduce__()[2][3])))

    def _set_partial_func(self, part: functools.partial, value: Any) -> None:
        func, args, keywords, attrs = part.__reduce__()[2]  # type: ignore[misc]
        part.__setstate__((value, args, keywords, attrs))
        self.p.add_undo(lambda: part.__setstate__((func, part.args, part.keywords, part.__reduce__()[2][3])))

    def _set_default(self, fn: types.FunctionType, index: int, value: Any) -> None:
        old = fn.__defaults__ or ()
        fn.__defaults__ = old[:index] + (value,) + old[index + 1:]

        def undo() -> None:
            fn.__defaults__ = old

        self.p.add_undo(undo)

    def _set_member(self, container: set, old: Any, new: Any) -> None:
        if not self._kept.get(id(container)):
            self._kept[id(container)] = True
            self.p.keep_contents(container)
        container.discard(old)
        container.add(new)


def _reset_lock(lock: Lock, locked: bool, holder: Optional[int]) -> None:
    real = lock._real
    if real.locked() != locked:
        if locked:
            real.acquire(False)
        else:
            real.release()
    lock._holder_tid = holder
    lock._queue = None


def is_real_primitive(value: Any) -> bool:
    """A lock or SimpleQueue of the C implementation: it blocks the OS thread, not a virtual one."""
    return (isinstance(value, _REAL_LOCK_TYPES) or bool(_REAL_RLOCK_TYPES and isinstance(value, _REAL_RLOCK_TYPES))
            or (_RealSimpleQueue is not None and type(value) is _RealSimpleQueue))


def _slot_names(cls: type) -> List[str]:
    slots = cls.__dict__.get("__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    return [n for n in slots if n not in ("__dict__", "__weakref__")]


def adopt_prerun_primitives(p: Patcher, code_filter: CodeFilter, fn: Any,
                            extra: Optional[Iterable[Any]] = None) -> PrimitiveAdopter:
    """Make pre-existing primitives cooperative for the run; the adopter says what it did."""
    adopter = PrimitiveAdopter(p, code_filter)
    adopter.adopt_modules()
    adopter.adopt_callable(fn)
    for obj in extra or ():
        adopter._visit_object(obj, 3, "argument")
    adopter.record_initial_state()
    return adopter
