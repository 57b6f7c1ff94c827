"""The linearizability check: is there a sequential order of a history's calls with the same results?

A Wing-Gong search with Lowe's memoisation. A call may come next in the order when no call that
is still to be placed returned before it was called (real-time order); the sequential model (the
spec) runs it and its result must equal the observed one (``==``; an exception equals an
exception of the same type). A dead end is remembered as (how far each thread got, the spec's
state) so that another order reaching the same point is not searched again.

The spec's state between calls: a branch of the search starts from a ``copy.deepcopy`` of the
state where it leaves its parent; a spec that cannot be deep-copied (it holds a lock, a file, a
generator) is rebuilt instead, by re-running the calls of the branch's prefix on a fresh spec
object. Both give the same answers; the copy is faster for long prefixes. The memo compares
states by a structural fingerprint (attributes, containers with their items and, for a
subclass, its attributes too, plain values, the state of synchronisation objects: an Event's
flag, a Semaphore's count, whether a lock is held); a state with no faithful fingerprint is not
memoised, which costs time, never exactness.
"""

from __future__ import annotations

import collections
import copy
import pickle
import re
import threading
import types
import weakref
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from ..sync.vtime import _real_perf_counter as _clock
from .alone import Watch
from .history import INIT, POST, CallRecord, Raised, invoke
from .operation import Operation

_ATOMS = (int, float, complex, str, bytes, bool, type(None))
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_RLOCK_REPR = re.compile(r"owner=(\d+) count=(\d+)")


def same_result(spec: Any, observed: Any) -> bool:
    """Whether the spec's result matches the observed one."""
    if isinstance(spec, Raised) or isinstance(observed, Raised):
        return spec == observed if isinstance(spec, Raised) else False
    try:
        return bool(spec == observed)
    except Exception:  # noqa: BLE001 - a result whose == fails (or is not a bool) matches nothing
        return False


def _sync_state(obj: Any, depth: int) -> Optional[Hashable]:
    """The state of a synchronisation object, or None for a kind whose state is not known here.

    Between two complete calls of a sequential spec nobody waits, but a primitive still has a
    state that later calls see: an Event's flag, a Semaphore's count, a lock held across calls.
    """
    if isinstance(obj, threading.Event):
        return ("Event", obj.is_set())
    if isinstance(obj, threading.Semaphore):  # BoundedSemaphore too: its bound is state as well
        return (type(obj).__qualname__, obj._value, getattr(obj, "_initial_value", None))  # type: ignore[attr-defined]
    if isinstance(obj, threading.Condition):
        inner = fingerprint(obj._lock, depth + 1)  # type: ignore[attr-defined]
        return None if inner is None else ("Condition", inner, len(obj._waiters))  # type: ignore[attr-defined]
    if isinstance(obj, threading.Barrier):
        return ("Barrier", obj._parties, obj._state, obj._count)  # type: ignore[attr-defined]
    if isinstance(obj, threading._PyRLock):  # type: ignore[attr-defined]
        return ("RLock", obj._owner, obj._count)  # type: ignore[attr-defined]
    if type(obj).__name__ == "RLock":  # the C RLock shows its owner and count only in its repr
        m = _RLOCK_REPR.search(repr(obj))
        return None if m is None else ("RLock", m.group(1), m.group(2))
    locked = getattr(obj, "locked", None)
    if type(obj).__name__ in ("Lock", "lock") and callable(locked):
        return ("Lock", bool(locked()))
    return None


def _written_in_python(klass: type) -> bool:
    """Whether ``klass`` is a ``class`` statement's, whose instances keep their state in fields.

    Heap types include C types of extension modules (``collections.deque`` since 3.12), so the
    flag alone does not tell; a C type has no Python function in its namespace. A Python class
    without one is taken for a C type: its instances are pickled, which is exact, only slower.
    """
    if klass is object:
        return True
    known = _PYTHON_CLASS.get(klass)
    if known is None:
        known = bool(klass.__flags__ & _HEAPTYPE) and any(
            isinstance(v, types.FunctionType) for v in vars(klass).values())
        _PYTHON_CLASS[klass] = known
    return known


_PYTHON_CLASS: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def _fields(obj: Any, t: type) -> Dict[str, Any]:
    fields: Dict[str, Any] = {}
    if hasattr(obj, "__dict__"):
        fields.update(vars(obj))
    for klass in t.__mro__:
        slots = getattr(klass, "__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                fields[name] = getattr(obj, name)
    return fields


def _named(fields: Dict[str, Any], depth: int) -> Optional[Tuple[Tuple[str, Hashable], ...]]:
    named: List[Tuple[str, Hashable]] = []
    for name in sorted(fields):
        f = fingerprint(fields[name], depth + 1)
        if f is None:
            return None
        named.append((name, f))
    return tuple(named)


def _items(obj: Any, depth: int) -> Optional[Hashable]:
    """The contents of a built-in container (or of an instance of a subclass of one); None: no container."""
    if isinstance(obj, (list, tuple, collections.deque)):
        parts = tuple(fingerprint(x, depth + 1) for x in obj)
        if None in parts:
            return None
        return (parts, obj.maxlen) if isinstance(obj, collections.deque) else parts
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            fk, fv = fingerprint(k, depth + 1), fingerprint(v, depth + 1)
            if fk is None or fv is None:
                return None
            items.append((fk, fv))
        if isinstance(obj, collections.defaultdict):
            factory = fingerprint(obj.default_factory, depth + 1)
            return None if factory is None else (tuple(items), factory)
        return tuple(items)  # insertion order can matter (popitem, iteration)
    if isinstance(obj, (set, frozenset)):
        parts = tuple(fingerprint(x, depth + 1) for x in obj)
        return None if None in parts else frozenset(parts)
    return None


def fingerprint(obj: Any, depth: int = 0) -> Optional[Hashable]:
    """A hashable value equal only for states that behave the same, or None when none can be made.

    Two states with the same fingerprint must be the same state (the memo prunes one by the
    other); when in doubt, None: that state is not memoised, which costs time, never exactness.
    """
    t = type(obj)
    if t in _ATOMS:  # exactly: a subclass of int or str may carry attributes
        return (t.__name__, repr(obj)) if t is float or t is complex else (t.__name__, obj)  # -0.0 != 0.0
    if depth > 12:
        return None
    if t.__module__ in ("threading", "_thread") or t.__module__.startswith("interleave.sync"):
        return _sync_state(obj, depth)
    if t in (list, tuple, dict, set, frozenset, collections.deque):
        items = _items(obj, depth)
        return None if items is None else (t.__name__, items)
    if t is types.FunctionType:
        return _function(obj, depth)
    heap_only = all(_written_in_python(k) for k in t.__mro__)
    fields = _fields(obj, t)
    if not heap_only:
        # Built on a C type: its state is partly outside the fields (a container's items, an
        # array's or a bytearray's contents).
        items = _items(obj, depth)
        if items is None:
            base = next(k for k in t.__mro__ if not _written_in_python(k))
            if base not in (list, tuple, dict, set, frozenset, collections.deque, collections.defaultdict,
                            collections.OrderedDict):
                return _pickled(obj, t)
            return None
        named = _named(fields, depth)
        return None if named is None else (t.__module__, t.__qualname__, items, named)
    if not fields:
        return _pickled(obj, t)
    named = _named(fields, depth)
    return None if named is None else (t.__module__, t.__qualname__, named)


def _function(fn: Any, depth: int) -> Optional[Hashable]:
    """A function (a lambda in an attribute): what it runs and what it sees.

    Without this a spec holding a lambda had no fingerprint at all, so no memo: the search
    went exponential in the calls of a history that is not linearizable.
    """
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(fingerprint(cell.cell_contents, depth + 1))
        except ValueError:  # an empty cell
            cells.append(("<empty>",))
    rest = (fingerprint(fn.__defaults__, depth + 1), fingerprint(fn.__kwdefaults__, depth + 1),
            fingerprint(vars(fn), depth + 1))
    if None in cells or None in rest:
        return None
    # The globals dict is compared by identity: the same dict is the same global state.
    return ("function", fn.__code__, id(fn.__globals__), tuple(cells), rest)


def _pickled(obj: Any, t: type) -> Optional[Hashable]:
    """An opaque object: equal pickles are equal states."""
    try:
        return (t.__module__, t.__qualname__, pickle.dumps(obj))
    except Exception:  # noqa: BLE001 - not picklable: no fingerprint
        return None


class Model:
    """The sequential spec: a factory of fresh states and how to run one call on a state."""

    def __init__(self, spec: Callable[[], Any], operations: Sequence[Operation], by_name: bool,
                 post: Optional[Callable[[Any], Any]]) -> None:
        self.spec = spec
        self.operations = operations
        self.by_name = by_name
        self.post = post
        self.copies = True  # until a deepcopy fails; then every branch re-runs its prefix
        self.watch = Watch()

    def run(self, state: Any, call: CallRecord) -> Any:
        """Run ``call`` on ``state`` (which it changes); its result."""
        watch = self.watch
        watch.call = call
        watch.since = _clock()
        if call.column == POST:
            return invoke(self.post, state)  # type: ignore[arg-type]
        o = self.operations[call.op]  # type: ignore[index]
        watch.name = o.name
        if self.by_name:
            return invoke(getattr(state, o.name), *call.args)
        return invoke(o.fn, state, *call.args)

    def branch(self, state: Any, path: List[CallRecord]) -> Any:
        """A state equal to ``state`` (reached by ``path``) that the caller may change."""
        if self.copies:
            try:
                return copy.deepcopy(state)
            except Exception:  # noqa: BLE001 - e.g. a lock: rebuild from the calls instead
                self.copies = False
        fresh = self.spec()
        for call in path:
            self.run(fresh, call)
        return fresh


def linearizable(history: Sequence[CallRecord], model: Model) -> bool:
    """Whether some sequential order of the history's calls, respecting real time, gives its results."""
    columns: Dict[int, List[CallRecord]] = {}
    for rec in history:
        columns.setdefault(rec.column, []).append(rec)
    cols = [columns[k] for k in sorted(columns, key=lambda c: (c != INIT, c == POST, c))]
    for col in cols:
        col.sort(key=lambda r: r.start)
    total = tuple(len(c) for c in cols)
    dead: Set[Tuple[Tuple[int, ...], Hashable]] = set()

    def search(pos: Tuple[int, ...], state: Any, path: List[CallRecord]) -> bool:
        if pos == total:
            return True
        key = fingerprint(state)
        if key is not None and (pos, key) in dead:
            return False
        heads = [(k, cols[k][p]) for k, p in enumerate(pos) if p < total[k]]
        ready = [(k, c) for k, c in heads if not any(d.end < c.start for _, d in heads if d is not c)]
        for n, (k, call) in enumerate(ready):
            # The last branch may take the parent's state itself: nobody needs it afterwards.
            nxt = state if n == len(ready) - 1 else model.branch(state, path)
            if not same_result(model.run(nxt, call), call.result):
                continue
            path.append(call)
            if search(pos[:k] + (pos[k] + 1,) + pos[k + 1:], nxt, path):
                return True
            path.pop()
        if key is not None:
            dead.add((pos, key))
        return False

    return search(tuple(0 for _ in cols), model.spec(), [])
