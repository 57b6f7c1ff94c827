"""Access models of the synchronisation primitives: interleave's own, threading's and queue's.

Calls of their methods (``Thread.join``, ``Event.wait``, ``Queue.get``...) and the runtime's
synchronisation switch points (:func:`sync_access`) become accesses with the happens-before
(``sync``) and blocking (``block``) facts DPOR and the race detector use.
"""

from __future__ import annotations

import queue
import random
import threading
import types
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .record import NONE_ACCESS, Access, unknown
from .values import python_user_callable
from .vocabulary import CLOCK, EVERYTHING, NOTHING, UNKNOWN, Loc

#: interleave's own primitive classes and what each is ("lock" or "queue"). The classes live
#: above this layer (``sync/``) and declare themselves here when they are defined.
OWN_PRIMITIVES: Dict[type, str] = {}


class Declaration(NamedTuple):
    """What a cooperative primitive class says about itself (see :func:`declare_primitive`)."""

    cls: type
    #: The family of its access model: "lock" (acquire/release) or "queue" (put/get).
    kind: str
    #: Standard-library names (``"module.attribute"``) it stands in for during a run.
    replaces: Tuple[str, ...]
    #: The C type whose instances block the OS thread: instances made before a run are
    #: replaced by a twin (``cls.adopt``), and ones left are named when a run blocks for real.
    real_type: Optional[type]


#: Every declared primitive, in the order the classes were defined.
DECLARED: List[Declaration] = []
#: Real primitive type -> the declared class that stands in for it (what the adopter and the
#: watchdog ask about every value they meet, hence a dict).
STANDS_IN_FOR: Dict[type, Any] = {}


def declare_primitive(kind: str, *, replaces: Tuple[str, ...] = (),
                      real_type: Optional[type] = None) -> Callable[[type], type]:
    """Class decorator: the class is a cooperative primitive of ``kind`` (``"lock"`` or ``"queue"``).

    The class implements the primitive protocol (docs/architecture.md, "Adding a primitive"):
    ``would_wait()`` (an operation that waits until woken cannot go on now), and with a
    ``real_type`` also ``adopt(real, undo)``, ``give_back(real)``, ``snapshot()`` and ``reset(state)``.
    """
    if kind not in ("lock", "queue"):
        raise ValueError(f"unknown primitive kind {kind!r}")

    def declare(cls: type) -> type:
        needs = ["would_wait"] + (["adopt", "give_back", "snapshot", "reset"] if real_type is not None else [])
        missing = [name for name in needs if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"{cls.__name__} declares a primitive but does not define {', '.join(missing)}")
        OWN_PRIMITIVES[cls] = kind
        DECLARED.append(Declaration(cls, kind, tuple(replaces), real_type))
        if real_type is not None:
            STANDS_IN_FOR[real_type] = cls
        return cls

    return declare


def undeclare_primitive(cls: type) -> None:
    """Take back ``cls``'s declaration (a primitive a test declared for itself)."""
    OWN_PRIMITIVES.pop(cls, None)
    DECLARED[:] = [d for d in DECLARED if d.cls is not cls]
    for real, stand_in in list(STANDS_IN_FOR.items()):
        if stand_in is cls:
            del STANDS_IN_FOR[real]


def primitive_kind(obj: Any) -> Optional[str]:
    """``"lock"``/``"queue"`` if ``obj`` is one of interleave's own primitives (or a subclass), else None."""
    for cls in type(obj).__mro__:
        kind = OWN_PRIMITIVES.get(cls)
        if kind is not None:
            return kind
    return None


def interleave_call(callee: Any, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    """A call of interleave's own code: its Lock, SimpleQueue, virtual clock and thread helpers."""
    func = callee.__func__ if type(callee) is types.MethodType else callee
    name = func.__name__
    recv = callee.__self__ if type(callee) is types.MethodType else None
    kind = primitive_kind(recv)
    if kind == "lock":
        if name in ("acquire", "release", "__enter__", "__exit__", "acquire_lock", "release_lock"):
            return NONE_ACCESS  # the operation itself is a sync switch point right after
        # ``locked()`` that answers False has seen the release before it: an acquire's edge.
        return Access("read", (((Loc.SYNC, id(recv)), False),), obj=recv, name=name, space="sync",
                      sync=("acquire", recv) if name in ("locked", "locked_lock") else None)
    if kind == "queue":
        block = None
        if name == "get" and _blocking(pos, kwargs, ("block", "timeout"), True, None):
            block = ("waits", recv)
        return Access("sync", (((Loc.SYNC, id(recv)), True),), obj=recv, name=name, space="sync", block=block,
                      sync=("put", recv) if name.startswith("put") else ("get", recv))
    mod = getattr(func, "__module__", "") or ""
    if mod.endswith("vtime"):
        if name == "sleep":
            return NONE_ACCESS
        return Access("read", ((CLOCK, False),), name=name, space="")
    if name in ("switch", "get_ident", "get_native_id"):
        return NONE_ACCESS
    return unknown(f"call of interleave's {name}")


def _blocking(pos: Sequence[Any], kwargs: Dict[str, Any], names: Tuple[str, ...], block_default: Any,
              timeout_default: Any) -> bool:
    """True when a call with these arguments waits for ever if it cannot proceed."""
    vals = dict(zip(names, pos, strict=False))
    vals.update(kwargs)
    b = vals.get(names[0], block_default)
    t = vals.get(names[1], timeout_default) if len(names) > 1 else timeout_default
    if b is UNKNOWN or t is UNKNOWN:
        return False
    return bool(b) and (t is None or (issubclass(type(t), (int, float)) and t < 0 and t == timeout_default))


# The modules whose methods the models describe.
_MODELLED_HOMES = frozenset({"threading", "queue", "random"})


def sync_method_model(obj: Any, name: str, pos: Sequence[Any], kwargs: Dict[str, Any],
                      func: Any = None) -> Optional[Access]:
    """Models of the standard library's threading and queue objects (pure Python on our Lock)."""
    def lock_of(x: Any) -> Any:
        return getattr(x, "_lock", None)

    if func is not None and getattr(func, "__module__", None) not in _MODELLED_HOMES:
        # An override in code not under test (a library's Event whose wait() never blocks): the
        # models below say what the standard library's method does, not what this one does.
        return None
    locs: List[Tuple[tuple, bool]] = [((Loc.OBJECT, id(obj)), True)]
    block: Optional[Tuple[str, Any]] = None
    sync: Optional[Tuple[str, Any]] = None
    if issubclass(type(obj), threading.Thread):
        if name == "start":
            locs = [((Loc.OBJECT, id(obj)), True), ((Loc.REGISTRY, id(obj)), True)]
            sync = ("start", obj)
        elif name == "join":
            if not kwargs and not pos:
                block = ("join", obj)
            locs = [((Loc.OBJECT, id(obj)), True), ((Loc.ENDED, id(obj)), False)]
            sync = ("join", obj)
        elif name in ("is_alive", "isAlive", "__repr__"):
            locs = [((Loc.OBJECT, id(obj)), False), ((Loc.ENDED, id(obj)), False)]
            sync = ("alive", obj)  # seeing it ended orders its end before (as join does)
        elif name in ("getName", "isDaemon"):
            locs = [((Loc.OBJECT, id(obj)), False)]
        elif name in ("run", "_bootstrap"):
            return None
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if issubclass(type(obj), threading.Condition):
        lk = lock_of(obj)
        locs.append(((Loc.SYNC, id(lk)), True))
        if name in ("acquire", "__enter__") and _blocking(pos, kwargs, ("blocking", "timeout"), True, -1):
            rlock_type = getattr(threading, "_PyRLock", None)
            if primitive_kind(lk) == "lock":
                block = ("waits", lk)
            elif rlock_type is not None and issubclass(type(lk), rlock_type):
                block = ("rlock", lk)
        if name in ("acquire", "__enter__"):
            sync = ("acquire", lk)
        elif name in ("release", "__exit__"):
            sync = ("release", lk)
        elif name in ("wait", "wait_for"):
            sync = ("wait", lk)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    rlock_t = getattr(threading, "_PyRLock", None)
    if rlock_t is not None and issubclass(type(obj), rlock_t):
        inner = getattr(obj, "_block", None)
        locs.append(((Loc.SYNC, id(inner)), True))
        if name in ("acquire", "__enter__") and _blocking(pos, kwargs, ("blocking", "timeout"), True, -1):
            block = ("rlock", obj)
        sync = ("acquire", obj) if name in ("acquire", "__enter__") else (
            ("release", obj) if name in ("release", "__exit__") else None)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if issubclass(type(obj), threading.Event):
        lk = lock_of(getattr(obj, "_cond", None))
        if name in ("is_set", "isSet"):
            locs = [((Loc.OBJECT, id(obj)), False)]
        elif name == "wait":
            locs = [((Loc.OBJECT, id(obj)), False), ((Loc.SYNC, id(lk)), True)]
            if not pos and not kwargs:
                block = ("event", obj)
        else:
            locs = [((Loc.OBJECT, id(obj)), True), ((Loc.SYNC, id(lk)), True)]
        # is_set() that returns True publishes like wait() does (the usual flag idiom); so does
        # a clear() that is_set() returning False sees.
        sync = ("set", obj) if name in ("set", "clear") else (
            ("wait", obj) if name in ("wait", "is_set", "isSet") else None)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if issubclass(type(obj), threading.Semaphore):  # and BoundedSemaphore
        lk = lock_of(getattr(obj, "_cond", None))
        locs.append(((Loc.SYNC, id(lk)), True))
        if name in ("acquire", "__enter__") and _blocking(pos, kwargs, ("blocking", "timeout"), True, None):
            block = ("sem", obj)
        sync = ("acquire", obj) if name in ("acquire", "__enter__") else (
            ("release", obj) if name in ("release", "__exit__") else None)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if issubclass(type(obj), threading.Barrier):
        lk = lock_of(getattr(obj, "_cond", None))
        locs.append(((Loc.SYNC, id(lk)), True))
        sync = ("barrier", obj) if name == "wait" else None
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", sync=sync)
    if issubclass(type(obj), queue.Queue):
        mtx = getattr(obj, "mutex", None)
        reading = name in ("qsize", "empty", "full")
        locs = [((Loc.OBJECT, id(obj)), not reading), ((Loc.SYNC, id(mtx)), True)]
        if name == "get" and _blocking(pos, kwargs, ("block", "timeout"), True, None):
            block = ("qget", obj)
        elif name == "put" and _blocking(pos[1:], kwargs, ("block", "timeout"), True, None) and obj.maxsize > 0:
            block = ("qput", obj)
        elif name == "join":
            block = ("qjoin", obj)
        # empty(), qsize() and full() read under the mutex: they see the puts before them.
        sync = ("put", obj) if name.startswith("put") else (
            ("get", obj) if name.startswith("get") or reading else (("qjoin", obj) if name == "join" else (
                ("task_done", obj) if name == "task_done" else None)))
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if issubclass(type(obj), threading.local):
        return None
    if issubclass(type(obj), random.Random):
        return Access("write", (((Loc.OBJECT, id(obj)), True),), obj=obj, name=name, space="object")
    return None


def module_function_model(func: Any, pos: List[Any], kwargs: Dict[str, Any]) -> Optional[Access]:
    """A function of ``threading`` the models know, or None."""
    mod = getattr(func, "__module__", None)
    name = getattr(func, "__name__", "")
    if mod == "threading":
        if name in ("current_thread", "currentThread", "main_thread", "get_ident", "get_native_id",
                    "RLock", "Lock", "_newname"):
            return NONE_ACCESS
        if name in ("active_count", "activeCount", "enumerate"):
            # They read every thread's registration: ordered against every start and end (and a
            # thread seen gone has ended before: the race check's edge).
            return Access("unknown", EVERYTHING, name=f"threading.{name}", sync=("ended", None))
    return None


def sync_access(op: Any) -> Access:
    """The access of a synchronisation switch point: the operation a primitive declared (an ``Op``)."""
    kind = getattr(op, "kind", None)
    if kind is None:
        return unknown(f"operation {op!r}")
    name = kind.value
    target = op.target
    if name == "acquire" or name == "release" or name == "put" or name == "get":
        # A declared primitive answers for itself whether the operation can go on (``would_wait``).
        return Access("sync", (((Loc.SYNC, id(target)), True),), obj=target, name=name, space="sync",
                      sync=(name, target), block=("waits", target) if op.waits_until_woken else None)
    if name == "sleep":
        # Registering a deadline reads the clock; only a timeout firing moves it.
        return Access("sync", ((CLOCK, False),), name=f"sleep({op.timeout})", space="", sync=None)
    if name == "switch":
        return Access("none", NOTHING, name="switch()")
    if name == "start":
        if target is not None and python_user_callable(target):
            return NONE_ACCESS
        return unknown("thread start running code not under test")
    return unknown(f"operation {name}")


def is_sync_class(cls: type) -> bool:
    """Whether ``cls`` is a synchronisation primitive's class (a new one is fresh: nobody sees it yet)."""
    return cls in OWN_PRIMITIVES or cls in (threading.Condition, threading.Event, threading.Semaphore,
                   threading.BoundedSemaphore, threading.Barrier, queue.Queue, queue.LifoQueue,
                   queue.PriorityQueue) or cls is getattr(threading, "_PyRLock", None)
