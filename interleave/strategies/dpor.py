"""Dynamic partial-order reduction: one execution per equivalence class of interleavings.

Source-DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014, Algorithm 1), over
the runtime's switch points. Two executions are equivalent when one is the other with adjacent
independent operations swapped; DPOR runs one execution, finds its *races* (dependent operations
of different threads not ordered by happens-before through other operations), and schedules
another execution only where reversing a race can lead to a new class. The dependency model is
in :mod:`interleave.instrument.access` and docs/dpor.md.

How it meets the runtime:

* An *event* is one thread's run from a switch point with an effect (a shared read or write, a
  sync operation, an opaque call) up to its next such point: points that touch nothing shared
  (a call into code under test, ``with`` on our Lock, ``GET_ITER``) are folded into the event
  before them, so they never become scheduling choices.
* A thread whose next operation would block for ever right now (``acquire`` of a held lock,
  ``join`` of a running thread, ``get`` on an empty queue, ``wait`` on an unset Event) is
  *disabled*: DPOR does not run it until another event enables it, as the theory assumes, so a
  blocked attempt never shows up as an operation of its own. The event that enabled it is not
  in a reversible race with it; for locks the race is between the two acquisitions.
* Each execution re-runs the program from the start. The prefix shared with the previous
  execution is replayed one grant per event (its vector clocks are kept: they name events, not
  objects); only the table of who last touched which location is rebuilt, because locations
  name this execution's objects. Nothing compares object ids across executions.
* A branch whose every enabled thread is in the sleep set is redundant; the rest of that
  execution runs without choices and is counted in :attr:`DporStrategy.stats` as
  ``sleep_blocked``, apart from the ``classes`` explored.
"""

from __future__ import annotations

import random
import sys
from types import CodeType, FrameType
from typing import Any, Dict, List, Optional, Set, Tuple

from ..instrument import access as A
from ..runtime import context
from ..runtime.execution import BLOCKED, DONE, Execution
from ..sync.lock import Lock
from ..sync.simplequeue import SimpleQueue
from .base import Divergence, Strategy

_LONG = 1 << 30
_POINT_CODE = Execution.point.__code__
_PARK_CODE = Execution.park.__code__
_Loc = tuple
_Accs = Tuple[Tuple[_Loc, bool], ...]
_DATA = frozenset("aikogcAO")
_EVERYTHING = A.EVERYTHING
_getframe = sys._getframe
_ACQUIRE_CODE = Lock._acquire.__code__
_SQ_GET_CODE = SimpleQueue.get.__code__

# A thread's next operation: (access, frame, code, offset, resumes-a-parked-operation).
_Pending = Tuple[A.Access, Optional[FrameType], Optional[CodeType], int, bool]


def overlap(x: _Loc, y: _Loc) -> bool:
    """Whether two locations may name the same memory."""
    if x == y:
        return True
    kx, ky = x[0], y[0]
    if kx == "*" or ky == "*":
        return True
    if kx == "O":
        return ky in _DATA
    if ky == "O":
        return kx in _DATA
    if kx == "o":
        return (ky in "aik" and y[1] == x[1]) or ky == "A"
    if ky == "o":
        return (kx in "aik" and x[1] == y[1]) or kx == "A"
    if kx == "k":
        return ky == "i" and y[1] == x[1]
    if ky == "k":
        return kx == "i" and x[1] == y[1]
    if kx == "A":
        return ky == "a" and y[2] == x[1]
    if ky == "A":
        return kx == "a" and x[2] == y[1]
    return False


def dependent(a: _Accs, b: _Accs) -> bool:
    """Whether two events' accesses conflict (same memory, at least one write)."""
    for la, wa in a:
        for lb, wb in b:
            if (wa or wb) and overlap(la, lb):
                return True
    return False


class _Event:
    """One DPOR event. Kept across executions while it is in the replayed prefix."""

    __slots__ = ("tid", "accs", "vc", "acq", "rel", "block", "picks", "ended")

    def __init__(self, tid: int, accs: _Accs, acq: Any, block: Any) -> None:
        self.tid = tid
        self.rel: Any = None  # id of the lock (or semaphore...) this event releases, else None
        self.ended: Any = None  # the thread object whose end this event is
        self.accs = accs  # locations of this execution's objects: refreshed on replay
        self.vc: List[int] = []  # per thread, its latest event that happens before (or is) this one
        self.acq = acq  # id of the lock this event acquires (a blocking acquisition), else None
        self.block = block  # the blocking predicate it had, if any
        self.picks = 0  # switch points it spans (replayed as one grant)


class _Node:
    """The state before one event, kept across executions along the current path."""

    __slots__ = ("choice", "done", "backtrack", "sleep", "enabled", "disabled", "preempts", "parent", "via")

    def __init__(self, choice: int, sleep: frozenset, enabled: Tuple[int, ...], disabled: Dict[int, Any],
                 preempts: int) -> None:
        self.choice = choice
        self.done: List[int] = [choice]  # explored here, in order; the last is the current one
        self.backtrack: Set[int] = {choice}
        self.sleep = sleep  # threads asleep on arrival (inherited)
        self.enabled = enabled
        self.disabled = disabled  # runnable threads whose next operation would block now
        self.preempts = preempts  # preemptions before this node
        # Seeded order only: the node before this one and the choice there that led here, so
        # that a pending node anywhere in the explored tree can be returned to.
        self.parent: Optional[_Node] = None
        self.via = -1


class _LocState:
    __slots__ = ("w", "r")

    def __init__(self) -> None:
        self.w = -1  # latest event that wrote it
        self.r: Dict[int, int] = {}  # per thread, its latest read since that write


_EXPLORE, _FREE = 0, 1


class DporStrategy(Strategy):
    """Explores one execution per Mazurkiewicz class (source-DPOR with sleep sets)."""

    name = "dpor"
    bounded = True

    def __init__(self, preemptions: Optional[int] = None, order_seed: Optional[int] = None) -> None:
        if preemptions is not None and preemptions < 0:
            raise ValueError("preemptions must be >= 0")
        self.k = preemptions
        #: With a seed, which initial of a reversed race is added to a node's backtrack set, and
        #: the order in which a node's pending alternatives are taken, are drawn from it (source-DPOR
        #: may take them in any order: the classes explored are the same, only their order changes;
        #: a few more executions may end sleep-blocked, counted apart from the classes).
        self.order_seed = order_seed
        self.rng: Optional[random.Random] = random.Random(order_seed) if order_seed is not None else None
        #: Unbounded and seeded: the next branch is a pending alternative drawn from the whole
        #: explored tree, not the deepest one, so choices near the root change early.
        self.tree = self.rng is not None and preemptions is None
        # Nodes that may still have alternatives (tree order), in the order they got one: a
        # dict, so that the draw is reproducible.
        self.open: Dict[_Node, None] = {}
        self.keep_upto = 0  # events before this index keep their clocks (tree order)
        self.nodes: List[_Node] = []
        self.events: List[_Event] = []
        self.done = False
        self.replay_upto = 0  # events before this index replay the previous execution's
        #: classes: executions that completed a new equivalence class; sleep_blocked: executions
        #: found redundant part-way (all enabled threads asleep) and run to the end without
        #: choices; races: races reversed; events: DPOR events run; executions: both kinds;
        #: pruned_by_bound: reversals dropped because they needed more preemptions than allowed.
        self.stats: Dict[str, int] = {"classes": 0, "sleep_blocked": 0, "races": 0, "events": 0,
                                      "executions": 0, "pruned_by_bound": 0}
        self._reset_execution()

    # ---------------------------------------------------------------- protocol
    @property
    def bound_description(self) -> str:
        """What an exhausted search covered."""
        if self.k is None:
            return f"all interleavings at the {self.model} granularity (DPOR: one execution per equivalence class)"
        return f"≤ {self.k} preemption{'s' if self.k != 1 else ''} (DPOR)"

    def describe(self) -> str:
        """``dpor``, ``dpor(preemptions=k)``, ``dpor(order_seed=s)`` or both."""
        opts = [f"{n}={v}" for n, v in (("preemptions", self.k), ("order_seed", self.order_seed)) if v is not None]
        return f"dpor({', '.join(opts)})" if opts else "dpor"

    def exhausted(self) -> bool:
        """True once every equivalence class (within the bound) has been explored."""
        return self.done

    def new_execution(self) -> bool:
        """Prepare to replay the current path and explore its next branch."""
        if self.done:
            return False
        self._reset_execution()
        return True

    model = "instruction"
    gil = False
    tracker: Optional[A.AccessTracker] = None

    def _reset_execution(self) -> None:
        self.ex: Any = None
        if self.tracker is None:
            self.tracker = A.AccessTracker()
        self.pend: Dict[int, Optional[_Pending]] = {}
        self.k_event = 0  # index of the next event
        self.running: Optional[_Event] = None
        self.run_acc: A.Access = A.NONE_ACCESS
        self.replaying = 0  # points the replayed event still spans after the current one
        self.run_left = 0  # points the replayed run (consecutive events of one thread) still spans
        self.run_end = 0  # index after the last event of that run
        self.last_event: Dict[int, int] = {}  # tid -> index of its latest event
        self.parent_event: Dict[int, int] = {}  # tid -> event that spawned or woke it
        self.enabler: Dict[int, int] = {}  # tid -> event that made its blocked operation possible
        self.locs: Dict[_Loc, _LocState] = {}
        self.by_obj: Dict[Any, Set[_Loc]] = {}  # object id -> exact locations of it
        self.by_attr: Dict[str, Set[_Loc]] = {}  # attribute name -> exact locations
        self.wild_o: Set[Any] = set()  # ids with a whole-object location
        self.wild_k: Set[Any] = set()  # ids with an all-items location
        self.wild_a: Set[str] = set()  # names with an any-object attribute location
        self.wild_any = False  # an any-data or everything location exists
        self.last_acq: Dict[int, int] = {}  # lock id -> event index of its latest acquisition
        self.mode = _EXPLORE
        self.nthreads = 1
        self.parked: Set[int] = set()
        self.disabled: Dict[int, Any] = {}
        self.preempts = 0
        self.blocked_run = False

    #: The strategy is its own recorder: pass it to ``Session.run_once`` (``explore`` does) so that
    #: it sees every switch point from the first; attached late it still works, less precisely.
    records = True
    #: Its event model counts a lone thread's switch points like any other.
    sees_lone_points = True

    def step(self, vt: Any, code: Optional[CodeType], offset: int, op: Any) -> None:
        """A thread reached a switch point (before executing it)."""
        if self.mode:
            return
        ex = self.ex
        if ex is None:
            ex = self._attach()
        if not ex.rec_left or ex.prelude is vt:
            # It waits here for a decision (or, just started, for its starter's event to end).
            if code is not None:
                f = _getframe(2)
                if f.f_code is not code:
                    f = _find_frame(f, code)
                    if f is None:
                        self.pend[vt.tid] = (A.unknown("frame not found"), None, None, 0, False)
                        return
                acc = self.tracker.pick(f, code, offset)
                self.pend[vt.tid] = (_coarse(acc) if self.gil else acc, f, code, offset, False)
            else:
                acc = _sync_pending(op, _getframe(2))
                self.pend[vt.tid] = (_coarse(acc) if self.gil else acc, None, None, 0, False)
            return
        # This point runs now without a decision: a replayed run, or the runtime runs the only
        # thread that can run.
        tid = vt.tid
        if self.run_left:
            self.run_left -= 1
            if self.replaying:
                # Within a replayed event: its later points touch nothing; remember what loads produce.
                self.replaying -= 1
                if code is not None:
                    f = _getframe(2)
                    if f.f_code is not code:
                        f = _find_frame(f, code)
                    if f is not None:
                        self.tracker.produce_only(f, code, offset)
                return
            # The first point of the replayed run's next event: close this one, open that one
            # (a fused path: this is most of a replayed prefix).
            if code is not None:
                f = _getframe(2)
                if f.f_code is not code:
                    f = _find_frame(f, code)
                acc = self.tracker.pick(f, code, offset) if f is not None else A.unknown("frame not found")
            else:
                f = None
                acc = _sync_pending(op, _getframe(2))
            if self.gil:
                acc = _coarse(acc)
            ev = self.running
            j = self.k_event
            self.k_event = j + 1
            self._update_locations(ev, j)  # type: ignore[arg-type]
            self.last_event[tid] = j
            if self.parent_event:
                self.parent_event.pop(tid, None)
            if self.enabler:
                self.enabler.pop(tid, None)
            if len(ex.threads) != self.nthreads or self.parked:
                self._spawned_or_woken(ex, tid, j)
            ev = self.events[j + 1]
            ev.accs = acc.locs
            ev.acq = ev.rel = ev.ended = None
            sync = acc.sync
            if sync is not None:
                self._sync_flags(ev, acc, ex.threads[tid], False)
            self.running = ev
            self.run_acc = acc
            if f is not None:
                self.tracker.executing(f, code, offset, acc)  # type: ignore[arg-type]
            self.replaying = ev.picks - 1 if ev.picks > 1 else 0
            return
        prev = self.pend.pop(tid, None)
        running = self.running
        if running is None or running.tid != tid:
            # Before the first decision nothing else runs: only what loads produce matters.
            if prev is not None and prev[1] is not None:
                self.tracker.executing(prev[1], prev[2], prev[3], prev[0])  # type: ignore[arg-type]
            if code is not None:
                f = _find_frame(_getframe(2), code)
                if f is not None:
                    self.tracker.produce_only(f, code, offset)
            return
        if prev is not None:
            # The point where the runtime decided alone: it ran just now, nothing else between.
            self._forced(tid, prev)
        self._pending_at(tid, code, offset, op)
        self._forced(tid, self.pend.pop(tid))

    def _forced(self, tid: int, p: _Pending) -> None:
        """A point the runtime ran without asking (``tid`` was the only thread that could run)."""
        running = self.running
        acc = p[0]
        if running is None or running.tid != tid or (not acc.locs and acc.block is None):
            # Before the first decision nothing else runs; a point that touches nothing joins
            # the running event.
            if p[1] is not None:
                self.tracker.executing(p[1], p[2], p[3], acc)  # type: ignore[arg-type]
            if running is not None and running.tid == tid:
                running.picks += 1
            return
        # A point with effects is an event of its own, at a node that offers no other choice.
        ex = self.ex
        self._finish_event(ex)
        k = self.k_event
        if k >= len(self.nodes):
            self._push(_Node(tid, frozenset(), (tid,), {}, self.preempts))
        self.disabled = {}
        self.pend[tid] = p
        ev = self._start_event(ex, tid, k)
        ev.picks = 1

    def _pending_at(self, tid: int, code: Optional[CodeType], offset: int, op: Any) -> None:
        if code is not None:
            f = _getframe(4)
            if f.f_code is not code:
                f = _find_frame(_getframe(2), code)
                if f is None:
                    self.pend[tid] = (A.unknown("frame not found"), None, None, 0, False)
                    return
            acc = self.tracker.pick(f, code, offset)
            self.pend[tid] = (_coarse(acc) if self.gil else acc, f, code, offset, False)
        else:
            acc = _sync_pending(op, _getframe(3))
            self.pend[tid] = (_coarse(acc) if self.gil else acc, None, None, 0, False)

    def _next_in_run(self, tid: int) -> None:
        """In a replayed run, the thread's pending point begins the run's next event."""
        ex = self.ex
        self._finish_event(ex)
        k = self.k_event
        ev = self._start_event(ex, tid, k)
        self.replaying = ev.picks - 1 if ev.picks > 1 else 0

    def switch(self, from_tid: int, to_tid: int, preempted: bool) -> None:
        """The runtime switches threads (nothing to do: decisions are ours)."""

    def finish(self) -> None:
        """End of a recorded run (the recorder protocol)."""

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        """Pick the next thread: follow the path, then explore, one event at a time."""
        ex = self.ex
        if ex is None:
            ex = self._attach()
        if self.mode:
            return (current if current in runnable else runnable[0]), _LONG
        running = self.running
        if running is not None:
            if running.tid == current and current in runnable:
                if self.run_left:
                    # A grant cut short (a thread became runnable): the replayed run goes on.
                    self.run_left -= 1
                    if self.replaying:
                        self.replaying -= 1
                        p = self.pend.get(current)
                        if p is not None:
                            self.pend[current] = None
                            if p[1] is not None:
                                self.tracker.executing(p[1], p[2], p[3], p[0])  # type: ignore[arg-type]
                    else:
                        self._next_in_run(current)
                    return current, self.run_left + 1
                p = self.pend.get(current)
                if p is not None and not p[0].locs and p[0].block is None:
                    # The running event goes on through a point that touches nothing.
                    self.pend[current] = None
                    running.picks += 1
                    if p[1] is not None:
                        self.tracker.executing(p[1], p[2], p[3], p[0])  # type: ignore[arg-type]
                    return current, 1
            self._finish_event(ex)
        return self._decide(ex, runnable, current)

    def end_execution(self, outcome: Any) -> None:
        """Close the last event, find its races, and move to the next branch to explore."""
        ex = self.ex
        if ex is not None and not self.mode and self.running is not None:
            self._finish_event(ex)
        st = self.stats
        st["executions"] += 1
        if self.blocked_run:
            st["sleep_blocked"] += 1
        else:
            st["classes"] += 1
        st["events"] += self.k_event - min(self.replay_upto, self.k_event)
        self._next_branch()
        del self.events[self.keep_upto if self.tree else self.replay_upto:]
        self.ex = None
        self.tracker.forget()
        self.pend = {}
        self.locs = {}

    # ---------------------------------------------------------------- set-up
    def bind(self, view: Any) -> None:
        """The runtime shows the execution before it starts: record it from the first point."""
        ex = getattr(view, "_ex", None)
        if ex is not None:
            self._attach(ex)

    def _attach(self, ex: Any = None) -> Any:
        if ex is None:
            ex = context.active
        if ex is None:
            raise RuntimeError("dpor: no active execution")
        self.ex = ex
        A.set_code_filter(ex.wants)
        self.tracker.forget()
        self.model = getattr(ex, "model", "instruction")
        self.gil = self.model == "gil"
        rec = ex.recorder
        if rec is None:
            ex.recorder = self
        elif rec is not self and not getattr(rec, "includes", lambda r: False)(self):
            ex.recorder = _Tee(rec, self)
        return ex

    def _pending_of(self, vt: Any) -> _Pending:
        """The pending operation of a thread that has not reported it (first point, wake-up)."""
        p = self.pend.get(vt.tid)
        if p is not None:
            return p
        frame = _getframe(1) if vt is self.ex.current else (vt.glet.gr_frame if vt.glet else None)
        f = frame
        n = 0
        while f is not None and n < 60:
            c = f.f_code
            if c is _POINT_CODE:
                loc = f.f_locals
                code = loc.get("code")
                off = loc.get("offset", 0)
                if code is not None:
                    uf = _find_frame(f, code)
                    if uf is not None:
                        acc = self.tracker.pick(uf, code, off)
                        p = (_coarse(acc) if self.gil else acc, uf, code, off, False)
                        break
                else:
                    acc = _sync_pending(loc.get("op"), f)
                    p = (_coarse(acc) if self.gil else acc, None, None, 0, False)
                    break
            if c is _PARK_CODE:
                p = (A.unknown("resumes a wait"), None, None, 0, True)
                break
            f = f.f_back
            n += 1
        if p is None:
            p = (A.unknown("unknown position"), None, None, 0, False)
        self.pend[vt.tid] = p
        return p

    # ---------------------------------------------------------------- events
    def _start_event(self, ex: Any, tid: int, k: int) -> _Event:
        vt = ex.threads[tid]
        p = self.pend.get(tid) or self._pending_of(vt)
        acc = p[0]
        if k < len(self.events):
            ev = self.events[k]  # replayed: keep its clock, refresh its locations
            ev.accs = _fired(acc) if vt.state == BLOCKED else acc.locs
            ev.acq = ev.rel = ev.ended = None
        elif vt.state == BLOCKED:
            ev = _Event(tid, _fired(acc), None, None)
            self.events.append(ev)
        else:
            ev = _Event(tid, acc.locs, None, acc.block)
            self.events.append(ev)
        if vt.state == BLOCKED:
            # A timed waiter whose deadline is due: the runtime fires its timeout.
            self.parked.discard(tid)
        elif acc.sync is not None:
            self._sync_flags(ev, acc, vt, p[4])
        self.running = ev
        self.run_acc = acc
        if p[1] is not None:
            self.tracker.executing(p[1], p[2], p[3], acc)  # type: ignore[arg-type]
        self.pend[tid] = None
        return ev

    def _finish_event(self, ex: Any) -> None:
        ev = self.running
        assert ev is not None
        self.running = None
        replayed = self.k_event < self.replay_upto
        tid = ev.tid
        vt = ex.threads[tid]
        state = vt.state
        if state == DONE:
            th = vt.thread
            key = id(th) if th is not None else ("vt", tid)
            ev.accs = ev.accs + ((("d", key), True), (("r", key), True))
            ev.ended = th
        elif state == BLOCKED:
            # It parked inside the operation: when woken it goes on with the same operation.
            self.pend[tid] = (_carry(self.run_acc), None, None, 0, True)
            self.parked.add(tid)
        j = self.k_event
        self.k_event = j + 1
        if replayed:
            self._update_locations(ev, j)
            self.parent_event.pop(tid, None)
            self.enabler.pop(tid, None)
        else:
            self._analyse(ev, j)
        self.last_event[tid] = j
        if len(ex.threads) != self.nthreads or self.parked:
            self._spawned_or_woken(ex, tid, j)

    def _spawned_or_woken(self, ex: Any, tid: int, j: int) -> None:
        """Threads event j started or woke happen after it."""
        n = len(ex.threads)
        if n != self.nthreads:
            for t in range(self.nthreads, n):
                self.parent_event[t] = j
            self.nthreads = n
        if self.parked:
            threads = ex.threads
            for t in list(self.parked):
                if t != tid and threads[t].state != BLOCKED:
                    self.parent_event[t] = j
                    self.parked.discard(t)

    @staticmethod
    def _sync_flags(ev: _Event, acc: A.Access, vt: Any, resumed: bool) -> None:
        """Which lock the event takes from free, or makes free (for the lock race rule)."""
        sync = acc.sync
        if sync[0] == "acquire" and acc.block is not None and not resumed:
            if not _reentrant(sync[1], vt):
                ev.acq = id(sync[1])
        elif (sync[0] == "release" or (sync[0] == "wait" and _is_lock(sync[1]))) and _frees(sync[1]):
            # Condition.wait releases the condition's lock before it parks.
            ev.rel = id(sync[1])

    # ---------------------------------------------------------------- happens-before and races
    def _analyse(self, ev: _Event, j: int) -> None:
        tid = ev.tid
        events = self.events
        last = self.last_event.get(tid)
        pre: List[int] = events[last].vc if last is not None else []
        par = self.parent_event.pop(tid, None)
        if par is not None:
            pre = _join(pre, events[par].vc)
        accs = ev.accs
        locs = self.locs
        cands: Set[int] = set()
        for loc, w in accs:
            st = locs.get(loc)
            if st is not None:
                if st.w >= 0:
                    cands.add(st.w)
                if w and st.r:
                    cands.update(st.r.values())
            if self.wild_any or self._wild_possible(loc):
                for st2 in self._states_overlapping(loc):
                    if st2.w >= 0:
                        cands.add(st2.w)
                    if w and st2.r:
                        cands.update(st2.r.values())
        skip = self.enabler.pop(tid, None)
        vc = list(pre)
        deps = []
        for c in cands:
            ce = events[c]
            if ce.tid != tid:
                deps.append(c)
                for t, x in enumerate(ce.vc):
                    if t >= len(vc):
                        vc.append(x)
                    elif x > vc[t]:
                        vc[t] = x
        if len(vc) <= tid:
            vc += [-1] * (tid + 1 - len(vc))
        vc[tid] = j
        ev.vc = vc
        # Races of this event: dependent, another thread, not ordered through anything else.
        racing: List[int] = []
        if deps:
            deps.sort(reverse=True)
            cover = pre
            for c in deps:
                ce = events[c]
                if (cover[ce.tid] if ce.tid < len(cover) else -1) < c and c != skip:
                    racing.append(c)
                cover = _join(cover, ce.vc)
        if ev.acq is not None:
            # A lock acquisition races with the previous acquisition of the lock by another
            # thread (the release in between is not reversible: the lock was held).
            prev = self.last_acq.get(ev.acq)
            if prev is not None and events[prev].tid != tid and _get(pre, events[prev].tid) < prev:
                racing.append(prev)
            if racing:
                racing = [c for c in racing if not _is_release_of(events[c], ev.acq)]
        if racing and ev.block is not None and ev.block[0] == "join":
            # A join cannot run before the end of the thread it joins.
            racing = [c for c in racing if events[c].ended is not ev.block[1]]
        for c in racing:
            self.stats["races"] += 1
            self._reverse(c, j)
        self._update_locations(ev, j)

    def _update_locations(self, ev: _Event, j: int) -> None:
        if ev.acq is not None:
            self.last_acq[ev.acq] = j
        locs = self.locs
        tid = ev.tid
        for loc, w in ev.accs:
            st = locs.get(loc)
            if st is None:
                st = locs[loc] = _LocState()
                self._register(loc)
            if w:
                st.w = j
                if st.r:
                    st.r = {}
            else:
                st.r[tid] = j

    def _wild_possible(self, loc: _Loc) -> bool:
        """Whether some location other than ``loc`` itself may overlap it (a cheap pre-check)."""
        k = loc[0]
        if k == "a":
            return loc[1] in self.wild_o or loc[2] in self.wild_a
        if k == "i":
            return loc[1] in self.wild_o or loc[1] in self.wild_k
        if k == "k":
            return loc[1] in self.wild_o or loc[1] in self.by_obj
        return k in "oAO*"

    def _register(self, loc: _Loc) -> None:
        k = loc[0]
        if k == "a":
            self.by_obj.setdefault(loc[1], set()).add(loc)
            self.by_attr.setdefault(loc[2], set()).add(loc)
        elif k == "i":
            self.by_obj.setdefault(loc[1], set()).add(loc)
        elif k == "k":
            self.wild_k.add(loc[1])
        elif k == "o":
            self.wild_o.add(loc[1])
        elif k == "A":
            self.wild_a.add(loc[1])
        elif k == "O" or k == "*":
            self.wild_any = True

    def _states_overlapping(self, loc: _Loc) -> List[_LocState]:
        """States of the other locations that overlap ``loc``."""
        locs = self.locs
        k = loc[0]
        if k == "*":
            return [s for l2, s in locs.items() if l2 != loc]
        if k == "O":
            return [s for l2, s in locs.items() if l2 != loc and (l2[0] in _DATA or l2[0] == "*")]
        cands: List[_Loc] = [("*",)]
        if k in _DATA:
            cands.append(("O",))
        if k == "a":
            cands += [("o", loc[1]), ("A", loc[2])]
        elif k == "i":
            cands += [("o", loc[1]), ("k", loc[1])]
        elif k == "k":
            cands.append(("o", loc[1]))
            cands += list(self.by_obj.get(loc[1], ()))
        elif k == "o":
            cands += list(self.by_obj.get(loc[1], ()))
            cands.append(("k", loc[1]))
            cands += [("A", n) for n in self.wild_a]
        elif k == "A":
            cands += list(self.by_attr.get(loc[1], ()))
            cands += [("o", i) for i in self.wild_o]
        out: List[_LocState] = []
        for c in cands:
            if c != loc:
                s = locs.get(c)
                if s is not None:
                    out.append(s)
        return out

    def _reverse(self, i: int, j: int) -> None:
        """Race between events i and j: make sure the state before i explores a reversal."""
        node = self.nodes[i]
        events = self.events
        ti = events[i].tid
        # notdep(i).j: the events after i that do not happen after it, then j; its initials.
        first: Dict[int, int] = {}
        initials: List[int] = []
        for x in range(i + 1, j + 1):
            ex_ = events[x]
            vc = ex_.vc
            if x != j and (vc[ti] if ti < len(vc) else -1) >= i:
                continue
            t = ex_.tid
            if t in first:
                continue
            ok = True
            for t2, f in first.items():
                if (vc[t2] if t2 < len(vc) else -1) >= f:
                    ok = False
                    break
            if ok:
                initials.append(t)
            first[t] = x
        enabled = node.enabled
        backtrack = node.backtrack
        cand = [t for t in initials if t in enabled]
        if not cand:
            return
        for t in cand:
            if t in backtrack:
                return
        awake = [t for t in cand if t not in node.sleep]
        if not awake:
            return
        if self.rng is not None:
            pick = awake[0] if len(awake) == 1 else self.rng.choice(awake)
        else:
            pick = events[j].tid if events[j].tid in awake else min(awake)
        if self.k is not None:
            self._bounded_add(i, pick)
            return
        backtrack.add(pick)
        if self.tree:
            self.open[node] = None

    # ---------------------------------------------------------------- decisions
    def _decide(self, ex: Any, runnable: List[int], current: int) -> Tuple[int, int]:
        k = self.k_event
        nodes = self.nodes
        if k < self.replay_upto:
            # The shared prefix: same choice, same event, one grant for all its points.
            node = nodes[k]
            tid = node.choice
            if tid not in runnable:
                raise Divergence(
                    f"dpor: replaying event {k}, thread {tid} cannot run (runnable: {runnable}); "
                    "the program does not behave the same way under the same schedule")
            if self.disabled:
                for t in self.disabled:
                    if t not in node.disabled and t in node.enabled:
                        self.enabler[t] = k - 1
            self.disabled = node.disabled
            self.preempts = node.preempts
            ev = self._start_event(ex, tid, k)
            # Grant the whole run of this thread's consecutive replayed events at once.
            events = self.events
            total = ev.picks
            e = k + 1
            upto = self.replay_upto
            while e < upto and events[e].tid == tid:
                total += events[e].picks
                e += 1
            self.run_end = e
            self.replaying = ev.picks - 1
            self.run_left = total - 1
            return tid, total
        threads = ex.threads
        pend = self.pend
        disabled: Dict[int, Any] = {}
        enabled: List[int] = []
        for t in runnable:
            p = pend.get(t)
            if p is None:
                p = self._pending_of(threads[t])
            b = p[0].block
            if b is not None and not p[4]:
                vt = threads[t]
                if vt.state != BLOCKED and _blocks(b, vt, ex):
                    disabled[t] = b
                    continue
            enabled.append(t)
        # Threads that were disabled before this event and are enabled now: it enabled them.
        if k and self.disabled:
            for t in self.disabled:
                if t not in disabled and t in enabled:
                    self.enabler[t] = k - 1
        self.disabled = disabled
        if not enabled:
            # Every thread left would block: run one so that the runtime sees the deadlock.
            self.mode = _FREE
            return runnable[0], _LONG
        prev = self.events[k - 1].tid if k else current
        if k < len(nodes):
            node = nodes[k]  # the branch point: its next choice
            tid = node.choice
            if tid not in enabled:
                raise Divergence(
                    f"dpor: at event {k}, thread {tid} is not enabled (enabled: {enabled}); "
                    "the program does not behave the same way under the same schedule")
            node.enabled = tuple(enabled)
            node.disabled = disabled
        else:
            # With a preemption bound, sleep sets are off: a class asleep here may be reachable
            # within the bound only through this node (sleep sets and bounding are unsound together).
            sleep = self._next_sleep(k - 1) if k and self.k is None else frozenset()
            awake = [t for t in enabled if t not in sleep] if sleep else enabled
            if not awake:
                self.blocked_run = True
                self.mode = _FREE
                return (current if current in runnable else runnable[0]), _LONG
            # Not drawn from order_seed: a random choice here has been measured to count a class
            # twice (3 threads x 1 locked increment: 7 for 6), so new nodes keep this order.
            tid = prev if prev in awake else awake[0]
            if self.k is not None and self.preempts >= self.k and prev in enabled and tid != prev:
                # Out of preemptions and the running thread is asleep: this branch is redundant
                # within the bound.
                self.blocked_run = True
                self.mode = _FREE
                return (current if current in runnable else runnable[0]), _LONG
            node = _Node(tid, sleep, tuple(enabled), disabled, self.preempts)
            self._push(node)
        if k and tid != prev and prev in enabled:
            self.preempts += 1
        ev = self._start_event(ex, tid, k)
        ev.picks = 1
        return tid, 1

    def _next_sleep(self, i: int) -> frozenset:
        """Sleep set after event i: earlier siblings and inherited sleepers it does not disturb."""
        node = self.nodes[i]
        if not node.sleep and len(node.done) == 1:
            return frozenset()
        ev = self.events[i]
        asleep = set(node.sleep)
        for t in node.done:
            if t != node.choice:
                asleep.add(t)
        asleep.discard(ev.tid)
        if not asleep:
            return frozenset()
        out = []
        threads = self.ex.threads
        for q in sorted(asleep):
            if q >= len(threads) or threads[q].state == DONE:
                continue
            p = self._pending_of(threads[q])
            th = threads[q].thread
            key = id(th) if th is not None else ("vt", q)
            accs = p[0].locs + ((("d", key), True),)
            if not dependent(ev.accs, accs):
                out.append(q)
        return frozenset(out)

    def _push(self, node: _Node) -> None:
        nodes = self.nodes
        if self.tree and nodes:
            parent = nodes[-1]
            node.parent = parent
            node.via = parent.choice
        nodes.append(node)

    def _next_branch(self) -> None:
        """Backtrack: the deepest node with a choice still to explore becomes the branch point."""
        if self.tree:
            self._next_branch_tree()
            return
        nodes = self.nodes
        while nodes:
            node = nodes[-1]
            if len(node.backtrack) == len(node.done):
                nodes.pop()  # nothing was added here (done is always part of backtrack)
                continue
            rest = sorted(t for t in node.backtrack if t not in node.done and t not in node.sleep)
            if rest:
                t = rest[0] if self.rng is None or len(rest) == 1 else self.rng.choice(rest)
                node.choice = t
                node.done.append(t)
                self.replay_upto = len(nodes) - 1
                return
            nodes.pop()
        self.replay_upto = 0
        self.done = True

    def _next_branch_tree(self) -> None:
        """Seeded order: a pending alternative drawn from anywhere in the explored tree.

        Its node's path from the root is followed again (the events up to where it leaves the
        previous path keep their clocks; the rest are analysed anew, which only re-finds races
        already reversed), then the alternative runs. Every alternative added is still taken
        once, so the classes explored are the same as in depth-first order.
        """
        rng = self.rng
        assert rng is not None
        pending: List[Tuple[_Node, List[int]]] = []
        for node in list(self.open):
            rest = [t for t in node.backtrack if t not in node.done and t not in node.sleep]
            if rest:
                pending.append((node, rest))
            else:
                del self.open[node]
        if not pending:
            self.nodes = []
            self.replay_upto = self.keep_upto = 0
            self.done = True
            return
        node, rest = pending[rng.randrange(len(pending))]
        t = rng.choice(sorted(rest))
        path: List[_Node] = []
        n: Optional[_Node] = node
        while n is not None:
            path.append(n)
            n = n.parent
        path.reverse()
        old = self.nodes
        old_choices = [x.choice for x in old]
        for a, b in zip(path, path[1:]):
            a.choice = b.via
        node.choice = t
        node.done.append(t)
        keep = 0
        while keep < len(path) and keep < len(old) and old[keep] is path[keep] and \
                old_choices[keep] == path[keep].choice:
            keep += 1
        self.nodes = path
        self.replay_upto = self.keep_upto = keep

    # ---------------------------------------------------------------- preemption bound
    def _bounded_add(self, i: int, pick: int) -> None:
        """Add a reversal within the preemption bound, and the conservative point before it.

        Bounded partial-order reduction (Coons, Musuvathi, McKinley, OOPSLA 2013): a reversal
        that would preempt at node i may also be reachable without a preemption from where the
        running thread's current run of events began, so the thread is added there too.
        """
        node = self.nodes[i]
        prev = self.events[i - 1].tid if i > 0 else None
        cost = 1 if prev is not None and prev != pick and prev in node.enabled else 0
        if node.preempts + cost <= self.k:  # type: ignore[operator]
            node.backtrack.add(pick)
        else:
            self.stats["pruned_by_bound"] += 1
        b = i
        while b > 0 and self.events[b - 1].tid == self.events[i - 1].tid if i > 0 else False:
            b -= 1
        if b != i and b < len(self.nodes):
            nb = self.nodes[b]
            if pick in nb.enabled and pick not in nb.sleep and pick not in nb.backtrack:
                prevb = self.events[b - 1].tid if b > 0 else None
                costb = 1 if prevb is not None and prevb != pick and prevb in nb.enabled else 0
                if nb.preempts + costb <= self.k:  # type: ignore[operator]
                    nb.backtrack.add(pick)


class _Tee:
    """Sends the runtime's recorder calls to two recorders."""

    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b

    def includes(self, r: Any) -> bool:
        return r is self.a or r is self.b

    def step(self, vt: Any, code: Any, offset: int, op: Any) -> None:
        self.a.step(vt, code, offset, op)
        self.b.step(vt, code, offset, op)

    def switch(self, f: int, t: int, p: bool) -> None:
        self.a.switch(f, t, p)
        self.b.switch(f, t, p)

    def finish(self) -> None:
        for r in (self.a, self.b):
            fin = getattr(r, "finish", None)
            if fin is not None:
                fin()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.a, name)


# ---------------------------------------------------------------------- helpers


def _get(vc: List[int], t: int) -> int:
    return vc[t] if t < len(vc) else -1


def _join(a: List[int], b: List[int]) -> List[int]:
    if len(a) < len(b):
        a, b = b, a
    out = list(a)
    for i, x in enumerate(b):
        if x > out[i]:
            out[i] = x
    return out


def _setmax(vc: List[int], t: int, j: int) -> List[int]:
    if len(vc) <= t:
        vc = list(vc) + [-1] * (t + 1 - len(vc))
    vc[t] = j
    return vc


def _reentrant(lock: Any, vt: Any) -> bool:
    """An RLock acquisition by its owner: it takes nothing from anyone."""
    owner = getattr(lock, "_owner", None)
    return owner is not None and owner == vt.ident


def _is_lock(obj: Any) -> bool:
    return isinstance(obj, Lock) or hasattr(obj, "_owner") and hasattr(obj, "_block")


def _frees(lock: Any) -> bool:
    """A release that makes the lock available (an RLock's last one)."""
    count = getattr(lock, "_count", None)
    return not isinstance(count, int) or count <= 1


def _is_release_of(ev: _Event, lock_id: int) -> bool:
    return ev.rel == lock_id


def _fired(acc: A.Access) -> _Accs:
    """A timeout firing: virtual time moves, and the parked operation goes on."""
    return acc.locs + ((A.CLOCK, True),)


def _coarse(acc: A.Access) -> A.Access:
    """Under the gil model an event runs many instructions between switch points: the harness
    does not follow them all, so it depends on everything (sound, and as costly as exhaustive)."""
    if acc.locs is _EVERYTHING:
        return acc
    return A.Access(acc.kind, _EVERYTHING, obj=acc.obj, name=acc.name, space=acc.space, block=acc.block,
                    sync=acc.sync)


def _carry(acc: A.Access) -> A.Access:
    """The access of resuming a parked operation: the same locations, never disabled again."""
    out = A.Access(acc.kind, acc.locs, obj=acc.obj, name=acc.name, space=acc.space, sync=acc.sync)
    return out


def _find_frame(f: Optional[FrameType], code: CodeType) -> Optional[FrameType]:
    n = 0
    while f is not None and f.f_code is not code and n < 16:
        f = f.f_back
        n += 1
    return f if f is not None and f.f_code is code else None


def _sync_pending(op: Any, start: Optional[FrameType]) -> A.Access:
    """The access of a synchronisation switch point, its blocking predicate made exact."""
    acc = A.sync_access(op)
    if acc.block is not None:
        acc = _refine_block(acc, op, start)
    return acc


def _refine_block(acc: A.Access, op: Any, start: Optional[FrameType]) -> A.Access:
    """A sync point's blocking predicate holds only for a blocking, untimed call."""
    f = start
    n = 0
    want = _ACQUIRE_CODE if op[0] == "acquire" else _SQ_GET_CODE
    while f is not None and f.f_code is not want and n < 8:
        f = f.f_back
        n += 1
    if f is None:
        acc.block = None
        return acc
    loc = f.f_locals
    if op[0] == "acquire":
        if not loc.get("blocking", True) or loc.get("timeout", -1) != -1:
            acc.block = None
    else:
        if not loc.get("block", True) or loc.get("timeout") is not None:
            acc.block = None
    return acc


def _blocks(b: Any, vt: Any, ex: Any) -> bool:
    """Evaluate a blocking predicate: True if the operation cannot proceed now."""
    kind, obj = b
    try:
        if kind == "lock":
            return obj.locked()
        if kind == "rlock":
            return obj._block.locked() and obj._owner != vt.ident
        if kind == "join":
            for t in ex.threads:
                if t.thread is obj:
                    return t.state != DONE
            return False
        if kind == "event":
            return not obj._flag
        if kind == "sem":
            return obj._value == 0
        if kind == "qget":
            return obj._qsize() == 0
        if kind == "qput":
            return 0 < obj.maxsize <= obj._qsize()
        if kind == "qjoin":
            return obj.unfinished_tasks > 0
        if kind == "nonempty":
            return not obj._items
    except Exception:  # noqa: BLE001 - when unsure, let it run: blocking inside an event is sound
        return False
    return False
