"""The primitive adopter: real primitives the body can reach, made cooperative for the run."""

from __future__ import annotations

import _thread
import functools
import os
import queue
import re
import sys
import threading
import types
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..instrument.access.primitives import STANDS_IN_FOR
from ..instrument.filter import CodeFilter
from ..instrument.patching import _MISSING, Patcher
from ..runtime.foreign import REAL_RLOCK_TYPES as _REAL_RLOCK_TYPES
from ..runtime.foreign import is_real_primitive
from .kinds import (
    _CONTAINER_LIMIT,
    _LEAF_TYPES,
    _LEAF_TYPES_IN_MODULES,
    _NO_TWIN_TYPES,
    _PLAIN_CONTAINERS,
    ModulePlans,
    _harness_name,
    _opaque,
    _slot_names,
    holds_nothing,
    own_dict,
    public_items,
    slot_values,
)
from .start_state import StartState
from .table import _REAL_TO_VIRTUAL

_RLOCK_STATE = re.compile(r"owner=(\d+) count=(\d+)")
# Where a lock-based primitive keeps its state, besides its Condition's lock and waiters.
_STATE: Dict[type, Tuple[str, ...]] = {
    threading.Event: ("_flag",),
    threading.Semaphore: ("_value",),
    threading.Barrier: ("_state", "_count"),
}
_DATA_DEPTH = 3  # how many objects deep the search goes from what the body holds
_CALLABLE_LEVELS = 32  # callables held by callables (closures of closures...) followed this far
_VISIT_BUDGET = 250_000  # objects searched at most: a huge object graph must not stall the start
_MODULE_BUDGET = int(os.environ.get("INTERLEAVE_ADOPT_BUDGET", "100000"))  # of those, from module globals
_MODULE_DEPTH = 64  # "any depth" in practice: object graphs of module globals are bounded by the budget


class _SearchBound:
    """Stands, among what was not made cooperative, for the part of the search the budget cut off."""

    def __init__(self, budget: int) -> None:
        self.budget = budget  # what the search of module globals was allowed, for the advice

    def __repr__(self) -> str:
        return "<search budget reached>"

class PrimitiveAdopter:
    """Makes primitives created before the run cooperative while it lasts, where it can reach them.

    Reached: globals and class attributes of instrumented modules, and what the explored
    function closes over, is bound to, defaults to or gets as arguments (partial arguments, a
    bound method's object, a callable object's attributes, ``__wrapped__``, closures of the
    callables it holds), and their attributes, dict, list and set items; and the locks of
    logging's handlers. A real lock cannot be
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
        self.start = StartState(patcher)  # what every execution starts from
        self.caller_ident = _thread.get_ident()
        self._level = 0  # callables being followed, one inside another
        self._kept: Dict[int, bool] = {}  # sets whose contents the patcher already restores
        self._searched_modules: set = set()  # their classes' attributes are searched too
        self._in_modules = False
        self.plans = ModulePlans(code_filter)
        self._wants = self.plans.wants

    def _replacement(self, value: Any, path: str = "?") -> Any:
        """The cooperative twin of a real primitive (the same twin every time), or _MISSING."""
        if value is None or type(value) in _NO_TWIN_TYPES or issubclass(type(value), (int, float, str, bytes, bool)):
            return _MISSING
        twin = self.twins.get(id(value))
        if twin is not None and twin[0] is value:
            return twin[1]
        new = self._make_twin(value, path)
        if new is not _MISSING:
            self.twins[id(value)] = (value, new)
        return new

    def _make_twin(self, value: Any, path: str) -> Any:
        primitive = STANDS_IN_FOR.get(type(value))
        if primitive is not None:
            return primitive.adopt(value, self.p.add_undo)
        if _REAL_RLOCK_TYPES and issubclass(type(value), _REAL_RLOCK_TYPES):
            m = _RLOCK_STATE.search(repr(value))
            owner, count = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            if count and owner != self.caller_ident:
                self.unadoptable.append((path, value))
                return _MISSING  # another OS thread holds it: nothing virtual can take it over
            rlock: Any = threading._PyRLock()  # type: ignore[attr-defined]
            if count:
                # The body runs as the calling thread, which holds it: so does the body.
                rlock._block.acquire()
                rlock._block._holder_tid = 0
                rlock._owner = owner
                rlock._count = count
            return rlock
        pair = self.map.get(id(value))
        if pair is not None and pair[0] is value:
            return pair[1]
        # The type first: any other object's ``__self__`` may be its class's ``__getattr__``.
        bound_to = value.__self__ if type(value) is types.BuiltinMethodType else None
        if bound_to is not None and is_real_primitive(bound_to):
            # ``lock.acquire`` kept as a callable: the same method of the owner's twin.
            twin = self._replacement(bound_to, path)
            if twin is not _MISSING and hasattr(twin, value.__name__):
                return getattr(twin, value.__name__)
        return _MISSING

    def _retool(self, obj: Any, path: str) -> None:
        """Give a lock-based object built before the run cooperative internals."""
        key = id(obj)
        if key in self.seen:
            return
        self.seen.add(key)
        if issubclass(type(obj), threading.Condition):
            lock = obj._lock  # type: ignore[attr-defined]
            new = self._replacement(lock, f"{path}._lock")
            if new is not _MISSING:
                # Same kind of lock in, same kind out: RLock-only methods exist on both or neither.
                self.p.setattr(obj, "_lock", new)
                for attr in ("acquire", "release", "_release_save", "_acquire_restore", "_is_owned"):
                    if attr in obj.__dict__ and hasattr(new, attr):
                        self.p.setattr(obj, attr, getattr(new, attr))
                self.adopted += 1
                self.start.add_condition(obj)
        elif issubclass(type(obj), (threading.Event, threading.Semaphore, threading.Barrier)):
            self._retool(obj._cond, path)  # type: ignore[union-attr]
            self.start.keep_values(obj, next(names for kind, names in _STATE.items() if issubclass(type(obj), kind)))
        elif issubclass(type(obj), queue.Queue):
            mutex = obj.mutex
            new = self._replacement(mutex, f"{path}.mutex")
            if new is not _MISSING:
                self.p.setattr(obj, "mutex", new)
                for attr in ("not_empty", "not_full", "all_tasks_done"):
                    cond = threading.Condition(new)
                    self.p.setattr(obj, attr, cond)
                    self.start.add_condition(cond)
                self.adopted += 1
                # maxsize is the program's to change; is_shutdown is 3.13's Queue.shutdown().
                self.start.keep_values(obj, ("unfinished_tasks", "maxsize", "is_shutdown"))
                items = getattr(obj, "queue", None)
                if hasattr(items, "clear") and hasattr(items, "extend"):
                    self.start.keep_items(items)
        elif issubclass(type(obj), threading.Thread):
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
                if type(value) in STANDS_IN_FOR and new.give_back(value):
                    self.twins.pop(id(value), None)  # it gave back what it took: of no use now
            return
        self._visit_object(value, depth, path)

    def _visit_mapping(self, owner: Any, pairs: Iterable[Tuple[str, Any]], depth: int, path: str = "?",
                       follow: bool = False) -> None:
        leaves = _LEAF_TYPES_IN_MODULES if self._in_modules else _LEAF_TYPES
        for name, value in pairs:
            kind = type(value)
            if kind in leaves:
                continue
            if kind is types.FunctionType and not follow:
                # No twin to put in its place: searched only.
                if id(value) not in self.seen:
                    self._visit_function(value, depth)
                continue
            if kind in _PLAIN_CONTAINERS:
                self._visit_object(value, depth, f"{path}.{name}")
                continue
            if _opaque(value):
                continue
            setter = functools.partial(self.p.setattr, owner, name)
            if follow:
                self._follow(setter, value, depth, f"{path}.{name}")
            else:
                self._adopt_at(setter, value, depth, f"{path}.{name}")

    def _visit_object(self, value: Any, depth: int, path: str = "?") -> None:
        if depth <= 0 or len(self.seen) >= _VISIT_BUDGET or type(value) in _LEAF_TYPES:
            return
        if type(value) in _PLAIN_CONTAINERS:  # the common case, straight to its items
            key = id(value)
            if key not in self.seen:
                self.seen.add(key)
                self._visit_items(value, depth, path)
            return
        if type(value) is types.FunctionType:  # the other common case: the checks below, in short
            if id(value) not in self.seen:
                self._visit_function(value, depth)
            return
        if value is None or issubclass(type(value), (int, float, str, bytes, bool, type(len))):
            return
        if issubclass(type(value), (threading.Condition, threading.Event, threading.Semaphore,
                              threading.Barrier, queue.Queue, threading.Thread)):
            self._retool(value, path)
            return
        cft = sys.modules.get("concurrent.futures.thread")
        if cft is not None and issubclass(type(value), cft.ThreadPoolExecutor):
            if id(value) not in self.seen:
                self.seen.add(id(value))
                # Its workers are real threads blocked on its real queue: each execution gives it
                # the internals of a new executor instead, whose workers are virtual threads.
                self.start.keep_executor(value)
                self.adopted += 1
            return
        if issubclass(type(value), types.ModuleType):
            return
        key = id(value)
        if key in self.seen:
            return
        self.seen.add(key)
        # The harness's own objects (a Hypothesis strategy a test module holds, pytest's config)
        # are large graphs that hold no lock of the program under test.
        if _harness_name(getattr(value if issubclass(type(value), (type, types.FunctionType)) else type(value),
                                 "__module__", None)):
            return
        if issubclass(type(value), (types.FunctionType, types.MethodType, functools.partial)):
            # A worker the body closes over often closes over the lock itself. A module's
            # functions are code, not state: what they default to was swapped by name.
            if not self._in_modules:
                self.adopt_callable(value, depth - 1)
            return
        if issubclass(type(value), type):
            mod = sys.modules.get(value.__module__)
            code_file = getattr(mod, "__file__", None)
            if code_file and (value.__module__ in self._searched_modules or self._wants(code_file)):
                cd = value.__dict__
                self._visit_mapping(value, public_items(cd, _LEAF_TYPES), depth - 1, value.__qualname__)
            return
        if issubclass(type(value), (dict, list, set, tuple, frozenset)):
            self._visit_items(value, depth, path)
            return
        d = own_dict(value)
        if d is not None:
            self._visit_mapping(value, list(d.items()), depth - 1, path)
        slots = [n for c in type(value).__mro__ for n in _slot_names(c)]
        if slots:
            self._visit_mapping(value, slot_values(value, slots), depth - 1, path)

    def _visit_function(self, fn: types.FunctionType, depth: int) -> None:
        """A function not seen yet: followed, unless it holds nothing or is the harness's or a library's."""
        if depth <= 0 or len(self.seen) >= _VISIT_BUDGET:
            return
        self.seen.add(id(fn))
        if not self._in_modules and not _harness_name(getattr(fn, "__module__", None)) and not holds_nothing(fn):
            self.adopt_callable(fn, depth - 1)

    def _visit_items(self, value: Any, depth: int, path: str) -> None:
        """Swap or search the items of a dict, list, set, tuple or frozenset (small ones only)."""
        leaves = _LEAF_TYPES_IN_MODULES if self._in_modules else _LEAF_TYPES
        if issubclass(type(value), dict):
            if len(value) <= _CONTAINER_LIMIT:
                for k, v in list(value.items()):
                    if type(v) in leaves or _opaque(v):
                        continue
                    self._adopt_at(functools.partial(self.p.setitem, value, k), v, depth - 1, f"{path}[{k!r}]")
            return
        if issubclass(type(value), list):
            if len(value) <= _CONTAINER_LIMIT:
                for i, v in enumerate(list(value)):
                    if type(v) in leaves or _opaque(v):
                        continue
                    self._adopt_at(functools.partial(self.p.setitem, value, i), v, depth - 1, f"{path}[{i}]")
            return
        if issubclass(type(value), set):
            if len(value) <= _CONTAINER_LIMIT:
                for v in list(value):
                    self._adopt_at(functools.partial(self._set_member, value, v), v, depth - 1, f"{path} item")
            return
        if issubclass(type(value), (tuple, frozenset)):
            if len(value) <= _CONTAINER_LIMIT:
                for i, v in enumerate(value):
                    if is_real_primitive(v):
                        self.unadoptable.append((f"{path}[{i}]", v))  # cannot be swapped in place
                    else:
                        self._visit_object(v, depth - 1, f"{path}[{i}]")
            return

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
        # The functions of code under test are followed (a lock as a default, in a closure);
        # a library's are not: that would cost most of the search for locks seldom kept there.
        for mod, in_modules in self.plans.searched():
            if len(self.seen) - start >= _MODULE_BUDGET:
                self.unadoptable.append((f"module {mod.__name__} and others not searched",
                                         _SearchBound(_MODULE_BUDGET)))
                break
            self._searched_modules.add(mod.__name__)
            self._in_modules = in_modules
            d = mod.__dict__
            self._visit_mapping(mod, public_items(d, _LEAF_TYPES_IN_MODULES if in_modules else _LEAF_TYPES),
                                _MODULE_DEPTH, mod.__name__)

    def adopt_log_handlers(self) -> None:
        """logging's module lock, and the locks of the handlers that exist before the run (a fixture's, a module's).

        A handler holds its lock while it emits, and its emit can run code under test (a
        handler class of the program, a stream or formatter it supplies), so a switch can come
        while the lock is held. A real RLock is owned by the OS thread that every virtual thread
        shares: each would re-enter it, and the mutual exclusion the program relies on would be
        silently gone. Handlers are reached through logging's own list of them, however the
        program reaches its logger. The harness's handlers (pytest's log capture) stay as they are.
        """
        logging = sys.modules.get("logging")
        registry = getattr(logging, "_handlerList", None)
        if not isinstance(registry, list):
            return
        # logging's own lock: getLogger() holds it while it builds a logger, which runs the
        # program's Logger class (setLoggerClass) with switch points inside.
        self._adopt_at(functools.partial(self.p.setattr, logging, "_lock"), logging.__dict__.get("_lock"), 1,
                       "logging._lock")
        for ref in list(registry):
            handler = ref() if callable(ref) else None
            if handler is None or _opaque(handler):
                continue
            self._visit_object(handler, 2, f"logging handler {type(handler).__qualname__}")

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
        if issubclass(type(fn), functools.partial):
            for i, a in enumerate(fn.args):
                self._follow(functools.partial(self._set_partial_arg, fn, i), a, depth, f"argument {i}")
            for k, v in list(fn.keywords.items()):
                self._follow(functools.partial(self.p.setitem, fn.keywords, k), v, depth, f"argument {k}")
            self._follow(functools.partial(self._set_partial_func, fn), fn.func, depth, "the partial's function")
            self._visit_attributes(fn, depth, "the partial")
        elif issubclass(type(fn), types.MethodType):
            owner = fn.__self__
            if is_real_primitive(owner):
                self.unadoptable.append(("self", owner))  # a method's __self__ cannot be rebound
            elif issubclass(type(owner), (types.FunctionType, types.MethodType, functools.partial)):
                self._follow(None, owner, depth, "self")
            else:
                self._visit_object(owner, depth, "self")
            self._follow(None, fn.__func__, depth, "the method's function")
        elif issubclass(type(fn), types.FunctionType):
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
        d = own_dict(obj)
        if d:
            self._visit_mapping(obj, list(d.items()), depth, path, follow=True)

    def _follow(self, setter: Optional[Callable[[Any], None]], value: Any, depth: int, path: str) -> None:
        """Swap ``value`` where it is held, or search it; a callable is followed at the same depth."""
        if issubclass(type(value), (types.FunctionType, types.MethodType, functools.partial)):
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
        state: Any = part.__reduce__()[2]
        func, args, keywords, attrs = state
        settable: Any = part  # __setstate__ is not in the stubs
        settable.__setstate__((func, args[:index] + (value,) + args[index + 1:], keywords, attrs))
        self.p.add_undo(lambda: settable.__setstate__((part.func, args, part.keywords, settable.__reduce__()[2][3])))

    def _set_partial_func(self, part: functools.partial, value: Any) -> None:
        state: Any = part.__reduce__()[2]
        func, args, keywords, attrs = state
        settable: Any = part  # __setstate__ is not in the stubs
        settable.__setstate__((value, args, keywords, attrs))
        self.p.add_undo(lambda: settable.__setstate__((func, part.args, part.keywords, settable.__reduce__()[2][3])))

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




def adopt_prerun_primitives(p: Patcher, code_filter: CodeFilter, fn: Any,
                            extra: Optional[Iterable[Any]] = None) -> PrimitiveAdopter:
    """Make pre-existing primitives cooperative for the run; the adopter says what it did."""
    adopter = PrimitiveAdopter(p, code_filter)
    adopter.adopt_modules()
    adopter.adopt_log_handlers()
    adopter.adopt_callable(fn)
    for obj in extra or ():
        adopter._visit_object(obj, 3, "argument")
    adopter.start.record_locks(new for _, new in adopter.twins.values())
    return adopter
