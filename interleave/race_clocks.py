"""The vector clocks of one execution's race check: who happened before whom, and which
accesses of a location no synchronisation orders (the rules are in ``races``)."""

from __future__ import annotations

from types import CodeType, FrameType
from typing import Any, Dict, List, Optional, Set, Tuple

from .instrument import access as A
from .instrument.access.analysis import SUSPENDABLE
from .instrument.access.vocabulary import Loc
from .instrument.frame_cells import cell_of
from .runtime import context
from .runtime.execution import BLOCKED, DONE
from .runtime.operation import SwitchPoint

# Locations of one piece of data (not a whole object, an unknown one, or everything).
_DATA_KINDS = frozenset((Loc.ATTR, Loc.ITEM, Loc.ITEMS, Loc.CELL))
# Plain reads and writes of attributes, items, globals and cells (and reading a container by
# iterating it). Calls of a builtin container's methods (list.append) are atomic operations, not
# data accesses, and are not reported.
_REPORTED = frozenset(("attr", "item", "items", "global", "cell"))
# The location of an access that reaches code the harness cannot see into.
_TOUCHES_ALL = A.EVERYTHING[0]


def _join(a: List[int], b: List[int]) -> List[int]:
    if len(a) < len(b):
        a = a + [0] * (len(b) - len(a))
    else:
        a = list(a)
    for i, x in enumerate(b):
        if x > a[i]:
            a[i] = x
    return a


class _Site:
    """An access recorded at a location: who, at which of their clock ticks, where."""

    __slots__ = ("tid", "epoch", "kind", "frame_info", "text")

    def __init__(self, tid: int, epoch: int, kind: str, frame_info: Tuple[str, int, str], text: str) -> None:
        self.tid = tid
        self.epoch = epoch
        self.kind = kind
        self.frame_info = frame_info
        self.text = text


class _LocHistory:
    __slots__ = ("write", "reads")

    def __init__(self) -> None:
        self.write: Optional[_Site] = None
        self.reads: Dict[int, _Site] = {}


class _Pick:
    """A thread's pending switch point and, once it ran, its effects still to complete."""

    __slots__ = ("acc", "frame", "code", "offset", "where")

    def __init__(self, acc: A.Access, frame: Optional[FrameType], code: Optional[CodeType], offset: int,
                 where: Tuple[str, int, str]) -> None:
        self.acc = acc
        self.frame = frame
        self.code = code
        self.offset = offset
        self.where = where


class RaceDetector:
    """The recorder of one execution: vector clocks and per-location access histories."""

    def __init__(self, checker: Any) -> None:
        self.checker = checker
        self.ex: Any = None
        self.tracker: Optional[A.AccessTracker] = None
        self.clock: Dict[int, List[int]] = {0: [1]}
        self.sync: Dict[int, List[int]] = {}  # id(sync object) -> clock of its last release
        self.keep: List[Any] = []  # sync objects whose ids key self.sync
        self.exit_clock: Dict[int, List[int]] = {}  # id(threading.Thread) -> clock at its end
        self.pending: Dict[int, _Pick] = {}  # tid -> point it stands at (not yet run)
        self.completing: Dict[int, A.Access] = {}  # tid -> parked operation to complete on wake
        self.parked: Dict[int, bool] = {}
        self.history: Dict[tuple, _LocHistory] = {}
        #: id(container) -> the item locations seen of it, so that a whole-container access finds them.
        self.items_of: Dict[int, Set[tuple]] = {}
        self.nthreads = 1
        self.fence: List[int] = []
        self.seen = {0}

    # ------------------------------------------------------------------ recorder protocol
    def step(self, vt: Any, point: SwitchPoint) -> None:
        """A thread reached a switch point; the one before it has run."""
        if self.ex is None:
            self._attach()
        tid = vt.tid
        if self.ex.prelude is vt:
            # A thread just started reached its first point inside its starter's step.
            pick = self._pick(point)
            if pick is not None:
                self.pending[tid] = pick
            self.seen.add(tid)
            return
        prev = self.pending.pop(tid, None)
        if prev is not None:
            self._ran(tid, prev, completed=True)
            if prev.frame is not None and point.frame is not prev.frame and self._unseen_between(
                    prev.frame, point.frame):
                self._fence(tid)
        elif tid in self.completing:
            self._complete(tid, self.completing.pop(tid))
        self._after_step_of(tid)
        pick = self._pick(point)
        if pick is not None:
            self.pending[tid] = pick

    def _pick(self, point: SwitchPoint) -> Optional[_Pick]:
        code, offset, f = point.code, point.offset, point.frame
        if code is not None:
            if f is None:
                return None
            acc = self.tracker.pick(f, code, offset)  # type: ignore[union-attr]
            # Computed now in case it runs right away; recomputed if it is preempted first.
            self.tracker.executing(f, code, offset, acc)  # type: ignore[union-attr]
            return _Pick(acc, f, code, offset, (code.co_filename, f.f_lineno, code.co_name))
        return _Pick(A.sync_access(point.op), None, None, 0, _user_site(f))

    def switch(self, from_tid: int, to_tid: int, preempted: bool) -> None:
        """The runtime switches threads."""
        if self.ex is None:
            self._attach()
        ex = self.ex
        if not preempted:
            # It blocked or ended: its last point has run; a blocked operation completes later.
            prev = self.pending.pop(from_tid, None)
            vt = ex.threads[from_tid]
            if prev is not None:
                self._ran(from_tid, prev, completed=vt.state != BLOCKED)
                if vt.state == BLOCKED:
                    self.completing[from_tid] = prev.acc
                    if prev.acc.sync is None:
                        # It blocked in code the harness does not see (a pool worker went back
                        # to its queue after ``set_result``): whatever it synchronised there is
                        # a fence, as a call into that code would be.
                        self._fence(from_tid)
            self._after_step_of(from_tid)
        p = self.pending.get(to_tid)
        if p is None and to_tid not in self.seen and to_tid not in self.completing:
            # Its first point was reached while it was being started (no step reported it).
            where = ex.threads[to_tid].pending
            if where is not None and not where.resumes:
                p = self._pick(where)
                if p is not None:
                    self.pending[to_tid] = p
        elif p is not None and p.frame is not None and self.tracker is not None:
            # Preempted before it, it runs now: what it loads is what it loads now.
            self.tracker.executing(p.frame, p.code, p.offset, p.acc)  # type: ignore[arg-type]
        self.seen.add(to_tid)

    def finish(self) -> None:
        """End of the execution: the point the last running thread stood at has run."""
        if self.ex is None:
            return
        cur = self.ex.current
        if cur is not None and cur.tid in self.pending:
            self._ran(cur.tid, self.pending.pop(cur.tid), completed=True)
        self.pending = {}

    # ------------------------------------------------------------------ internals
    def _attach(self) -> None:
        self.ex = context.active
        self.tracker = A.AccessTracker(self.ex.wants if self.ex is not None else None)
        if self.ex is not None:
            self.ex.lock_hook = self.lock_op

    def lock_op(self, acquired: bool, lock: Any) -> None:
        """A lock taken or given back with no switch point (inside the standard library: a
        Condition's ``wait``, a Queue's mutex, a Future's condition): an edge like any other."""
        tid = self.ex.current.tid
        if tid not in self.clock:
            return
        prev = self.pending.get(tid)
        if prev is not None and prev.acc.sync is None:
            # What the thread did since its last point comes before the lock operation.
            del self.pending[tid]
            self._ran(tid, prev, completed=True)
        if acquired:
            self._acquire_side(tid, ("acquire", lock))
        else:
            self._release_side(tid, ("release", lock))

    def _tick(self, tid: int) -> List[int]:
        c = self.clock.get(tid)
        if c is None:
            c = self.clock[tid] = [0] * (tid + 1)
        if len(c) <= tid:
            c.extend([0] * (tid + 1 - len(c)))
        c[tid] += 1
        return c

    def _ran(self, tid: int, pick: _Pick, completed: bool) -> None:
        """The point ran: check its data accesses, then apply its synchronisation."""
        acc = pick.acc
        c = self._tick(tid)
        kind = acc.kind
        if kind == "unknown":
            # A call the harness cannot see into: a full fence (never invents a race).
            self._fence(tid)
            if acc.sync is not None and completed:
                self._acquire_side(tid, acc.sync)
            return
        if _TOUCHES_ALL in acc.locs:
            self._fence(tid)  # it runs such code too (``list(g)`` of a library's generator)
        if (kind == "read" or kind == "write") and acc.locs and acc.space in _REPORTED:
            self._check(tid, c, acc, pick)
        sync = acc.sync
        if sync is not None:
            self._release_side(tid, sync)
            if completed:
                self._acquire_side(tid, sync)

    def _complete(self, tid: int, acc: A.Access) -> None:
        """A parked operation finished after the thread was woken."""
        if acc.sync is not None:
            self._acquire_side(tid, acc.sync)
        else:
            self._fence(tid)  # it went on in code the harness does not see

    def _fence(self, tid: int) -> None:
        """``tid`` ran code the harness cannot see into: everything before it in any thread's
        fence happens before everything after it (this hides races, never invents one)."""
        c = self.clock[tid]
        self.fence = _join(self.fence, c)
        self.clock[tid] = _join(c, self.fence)

    def _unseen_between(self, was: FrameType, now: Optional[FrameType]) -> bool:
        """Whether a thread that stood in frame ``was`` and now stands in ``now`` went through
        frames not under test: returned into a library that called user code again (a pool
        worker between two tasks, a callback's caller), rather than a plain call or return."""
        if now is None:
            return False
        wants = self.ex.wants
        f: Optional[FrameType] = now.f_back
        while f is not None and wants(f.f_code):  # called deeper through code under test
            if f is was:
                return False
            f = f.f_back
        if was.f_code.co_flags & SUSPENDABLE and wants(now.f_code):
            return False  # a generator that yielded back to code under test
        f = was.f_back
        while f is not None:  # returned through code under test
            if f is now:
                return False
            if not wants(f.f_code):
                return True
            f = f.f_back
        return True

    def _release_side(self, tid: int, sync: Tuple[Any, Any]) -> None:
        op, obj = sync[0], sync[1]
        if op in ("release", "put", "set", "barrier", "wait", "task_done"):
            if op == "wait" and not _is_condition_lock(obj):
                return  # Event.wait / is_set: acquire side only
            key = _key(obj)
            self.keep.append(obj)
            self.sync[key] = _join(self.sync.get(key, []), self.clock[tid])
        elif op == "start":
            pass  # the new thread inherits the clock when it first appears

    def _acquire_side(self, tid: int, sync: Tuple[Any, Any]) -> None:
        op, obj = sync[0], sync[1]
        if op in ("acquire", "get", "wait", "barrier", "qjoin"):
            src = self.sync.get(_key(obj))
            if src is not None:
                self.clock[tid] = _join(self.clock[tid], src)
        elif op == "ended":  # threading.active_count(), enumerate(): which threads are gone
            for src in self.exit_clock.values():
                self.clock[tid] = _join(self.clock[tid], src)
        elif op == "join" or op == "alive":
            src = self.exit_clock.get(id(obj))
            if src is not None:
                self.clock[tid] = _join(self.clock[tid], src)

    def _after_step_of(self, tid: int) -> None:
        """Edges created by what ``tid`` just did: threads it started, woke, or its own end."""
        ex = self.ex
        threads = ex.threads
        c = self.clock.setdefault(tid, [0] * (tid + 1))
        n = len(threads)
        if n != self.nthreads:
            for t in range(self.nthreads, n):
                child = list(c) + [0] * max(0, t + 1 - len(c))
                child[t] = max(child[t] if t < len(child) else 0, 1)
                self.clock[t] = child
            self.nthreads = n
        for t in list(self.parked):
            if t != tid and threads[t].state != BLOCKED:
                self.clock[t] = _join(self.clock.get(t, []), c)
                del self.parked[t]
        vt = threads[tid]
        if vt.state == BLOCKED:
            self.parked[tid] = True
        elif vt.state == DONE and vt.thread is not None:
            self.exit_clock[id(vt.thread)] = list(c)
            self.keep.append(vt.thread)
            # Waiting for a thread's end may also go through its exit queue (3.13) or the
            # shutdown join of the body: the parked-thread rule above covers both.

    def _check(self, tid: int, c: List[int], acc: A.Access, pick: _Pick) -> None:
        for loc, w in acc.locs:
            if loc[0] not in _DATA_KINDS:
                continue
            if loc[0] == Loc.CELL and pick.frame is not None:
                # The access model names a cell by its variable (sound for DPOR); two threads
                # that each made their own ``n`` use two cells: no race.
                cell = cell_of(pick.frame, loc[1])
                if cell is not None:
                    loc = (Loc.CELL, id(cell))
                    self.keep.append(cell)
            h = self.history.get(loc)
            if h is None:
                h = self.history[loc] = _LocHistory()
                if acc.obj is not None:
                    self.keep.append(acc.obj)
            site = _Site(tid, c[tid], "write" if w else "read", pick.where, acc.text)
            kind = loc[0]
            if kind == Loc.ITEM or kind == Loc.ITEMS:
                for other in self._container_mates(loc):
                    h2 = self.history.get(other)
                    if h2 is not None:
                        self._against(h2, w, c, acc, site)
            self._against(h, w, c, acc, site)
            if w:
                h.write = site
                h.reads = {}
            else:
                h.reads[tid] = site

    def _against(self, h: _LocHistory, w: bool, c: List[int], acc: A.Access, site: _Site) -> None:
        """Report what in ``h`` the access at ``site`` races with: a write, or any access if it writes."""
        tid = site.tid
        prior = h.write
        if prior is not None and prior.tid != tid and _get(c, prior.tid) < prior.epoch:
            self._report(acc, prior, site)
        if w:
            for r in h.reads.values():
                if r.tid != tid and _get(c, r.tid) < r.epoch:
                    self._report(acc, r, site)

    def _container_mates(self, loc: tuple) -> Any:
        """An item's whole container, or a whole container's items seen so far (``for k in d``
        against ``d["q"] = 2``)."""
        if loc[0] == Loc.ITEMS:
            return self.items_of.get(loc[1], ())
        keys = self.items_of.get(loc[1])
        if keys is None:
            keys = self.items_of[loc[1]] = set()
        keys.add(loc)
        return ((Loc.ITEMS, loc[1]),)

    def _report(self, acc: A.Access, a: _Site, b: _Site) -> None:
        names = {vt.tid: _thread_name(vt) for vt in self.ex.threads}
        sides = [(names.get(x.tid, f"T{x.tid}"), x.tid, x.kind, *x.frame_info, x.text) for x in (a, b)]
        self.checker.found(acc.label or "?", sides[0], sides[1])


def _key(obj: Any) -> int:
    """Where a primitive's releases are kept: an RLock's are its inner lock's, which the standard
    library takes and gives back itself (``Condition.wait``)."""
    if type(obj).__name__ == "_RLock":
        inner = getattr(obj, "_block", None)
        if inner is not None:
            return id(inner)
    return id(obj)


def _get(c: List[int], t: int) -> int:
    return c[t] if t < len(c) else 0


def _is_condition_lock(obj: Any) -> bool:
    # Condition.wait's sync names the condition's lock (releases it, re-acquires on wake).
    from .sync.lock import Lock

    return isinstance(obj, Lock) or type(obj).__name__ in ("_RLock", "RLock")


def _thread_name(vt: Any) -> str:
    th = vt.thread
    name = getattr(th, "name", None) if th is not None else None
    return name or vt.name


def _user_site(frame: Optional[FrameType]) -> Tuple[str, int, str]:
    from .instrument.filter import is_user_code_file

    f = frame
    while f is not None:
        if is_user_code_file(f.f_code.co_filename):
            return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return ("?", 0, "?")


