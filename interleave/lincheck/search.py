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
states by a structural fingerprint (attributes, containers and plain values; synchronisation
objects are left out, since between two complete calls of a sequential spec they are idle); a
state with no fingerprint is not memoised, which costs time, never exactness.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from .history import INIT, POST, CallRecord, Raised, invoke
from .operation import Operation

_SKIP = ("<sync>",)
_ATOMS = (int, float, complex, str, bytes, bool, type(None))


def same_result(spec: Any, observed: Any) -> bool:
    """Whether the spec's result matches the observed one."""
    if isinstance(spec, Raised) or isinstance(observed, Raised):
        return spec == observed if isinstance(spec, Raised) else False
    try:
        return bool(spec == observed)
    except Exception:  # noqa: BLE001 - a result whose == fails (or is not a bool) matches nothing
        return False


def fingerprint(obj: Any, depth: int = 0) -> Optional[Hashable]:
    """A hashable value equal for states that behave the same, or None when none can be made."""
    if isinstance(obj, _ATOMS):
        return (type(obj).__name__, obj)
    if depth > 12:
        return None
    t = type(obj)
    if t.__module__ in ("threading", "_thread") or t.__module__.startswith("interleave.sync"):
        return _SKIP
    if isinstance(obj, (list, tuple)) or t.__name__ == "deque":
        parts = tuple(fingerprint(x, depth + 1) for x in obj)
        return None if None in parts else (t.__name__, parts)
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            fk, fv = fingerprint(k, depth + 1), fingerprint(v, depth + 1)
            if fk is None or fv is None:
                return None
            items.append((fk, fv))
        return (t.__name__, tuple(items))  # insertion order can matter (popitem, iteration)
    if isinstance(obj, (set, frozenset)):
        parts = tuple(fingerprint(x, depth + 1) for x in obj)
        return None if None in parts else (t.__name__, frozenset(parts))
    fields: Dict[str, Any] = {}
    if hasattr(obj, "__dict__"):
        fields.update(vars(obj))
    for klass in t.__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                fields[name] = getattr(obj, name)
    if not fields:
        try:  # an opaque object: equal pickles are equal states
            return (t.__qualname__, pickle.dumps(obj))
        except Exception:  # noqa: BLE001 - not picklable: no fingerprint
            return None
    named: List[Tuple[str, Hashable]] = []
    for name in sorted(fields):
        f = fingerprint(fields[name], depth + 1)
        if f is None:
            return None
        named.append((name, f))
    return (t.__module__, t.__qualname__, tuple(named))


class Model:
    """The sequential spec: a factory of fresh states and how to run one call on a state."""

    def __init__(self, spec: Callable[[], Any], operations: Sequence[Operation], by_name: bool,
                 post: Optional[Callable[[Any], Any]]) -> None:
        self.spec = spec
        self.operations = operations
        self.by_name = by_name
        self.post = post
        self.copies = True  # until a deepcopy fails; then every branch re-runs its prefix

    def run(self, state: Any, call: CallRecord) -> Any:
        """Run ``call`` on ``state`` (which it changes); its result."""
        if call.column == POST:
            return invoke(self.post, state)  # type: ignore[arg-type]
        o = self.operations[call.op]  # type: ignore[index]
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
