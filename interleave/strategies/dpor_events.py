"""DPOR's events: their start and end, their vector clocks, and the races each one closes.

An event is one thread's run from a switch point with an effect to its next such point. When
an event ends, its happens-before clock is computed from the last accesses of the locations it
touched (:mod:`.dpor_relation`), and every earlier dependent event of another thread that it is
not already ordered after is a race, handed to the exploration tree to reverse.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set

from ..instrument import access as A
from ..instrument.access.vocabulary import Loc
from ..runtime.execution import BLOCKED, DONE
from .dpor_operations import _carry, _fired, _frees, _is_lock, _Pending, _reentrant, _takes_now
from .dpor_relation import _Accs, _Loc, _LocState


class _Event:
    """One DPOR event. Kept across executions while it is in the replayed prefix."""

    __slots__ = ("tid", "accs", "vc", "acq", "took", "rel", "block", "picks", "ended")

    def __init__(self, tid: int, accs: _Accs, acq: Any, block: Any) -> None:
        self.tid = tid
        self.rel: Any = None  # id of the lock (or semaphore...) this event releases, else None
        self.ended: Any = None  # the thread object whose end this event is
        self.accs = accs  # locations of this execution's objects: refreshed on replay
        self.vc: List[int] = []  # per thread, its latest event that happens before (or is) this one
        self.acq = acq  # id of the lock this event acquires (a blocking acquisition), else None
        self.took: Any = None  # id of the lock a try or timed acquisition takes, free at its start
        self.block = block  # the blocking predicate it had, if any
        self.picks = 0  # switch points it spans (replayed as one grant)



class EventLog:
    """Starts and ends events and finds their races (a part of the DPOR strategy)."""

    events: List[_Event]
    running: Optional[_Event]
    run_acc: A.Access
    k_event: int
    replay_upto: int
    last_event: Dict[int, int]
    parent_event: Dict[int, int]
    enabler: Dict[int, int]
    last_acq: Dict[int, int]
    nthreads: int
    parked: Set[int]
    stats: Dict[str, int]
    pend: Dict[int, Optional[_Pending]]
    tracker: A.AccessTracker
    locs: Dict[_Loc, _LocState]
    wild_any: bool
    wild_o: Set[Any]
    wild_k: Set[Any]
    wild_a: Set[str]

    if TYPE_CHECKING:  # the other parts of the DPOR strategy
        def _pending_of(self, vt: Any) -> _Pending: ...

        def _reverse(self, i: int, j: int) -> None: ...

        def _wild_possible(self, loc: _Loc) -> bool: ...

        def _register(self, loc: _Loc) -> None: ...

        def _states_overlapping(self, loc: _Loc) -> List[_LocState]: ...

    def _start_event(self, ex: Any, tid: int, k: int) -> _Event:
        vt = ex.threads[tid]
        p = self.pend.get(tid) or self._pending_of(vt)
        acc = p[0]
        if k < len(self.events):
            ev = self.events[k]  # replayed: keep its clock, refresh its locations
            ev.accs = _fired(acc) if vt.state == BLOCKED else acc.locs
            ev.acq = ev.took = ev.rel = ev.ended = None
        elif vt.state == BLOCKED:
            ev = _Event(tid, _fired(acc), None, None)
            self.events.append(ev)
        else:
            ev = _Event(tid, acc.locs, None, acc.block)
            self.events.append(ev)
        if vt.state == BLOCKED:
            # A timed waiter whose deadline is due: the runtime fires its timeout.
            self.parked.discard(tid)
            sync = acc.sync
            if sync is not None and sync[0] == "wait" and _is_lock(sync[1]) and _takes_now(sync[1]):
                # Condition.wait(timeout) that times out takes the condition's lock back: an
                # acquisition, which races with the next one as any does (that race is where a
                # notify could have woken it instead).
                ev.took = id(sync[1])
        elif acc.sync is not None:
            self._sync_flags(ev, acc, vt, p[3])
        self.running = ev
        self.run_acc = acc
        if p[1] is not None:
            self.tracker.produced(p[1], p[2], acc)  # type: ignore[arg-type]
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
            ev.accs = ev.accs + (((Loc.ENDED, key), True), ((Loc.REGISTRY, key), True))
            ev.ended = th
            # Its frames are over: what they held must die now, as it would without interleave.
            A.release_frames(self.tracker, _live_frames(ex))
        elif state == BLOCKED:
            # It parked inside the operation: when woken it goes on with the same operation.
            self.pend[tid] = (_carry(self.run_acc), None, None, True)
            self.parked.add(tid)
            if vt.deadline is not None:
                ev.accs = ev.accs + _REGISTERS  # a deadline of its own: see ``_fired``
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
        if sync[0] == "acquire":
            if _reentrant(sync[1], vt):
                return
            if acc.block is not None and not resumed:
                ev.acq = id(sync[1])
            elif _takes_now(sync[1]):
                # A try (or timed, or woken) acquisition that takes the lock: the next blocking
                # acquisition races with it as with any other (were it recorded nowhere, the
                # order in which the blocking one goes first and the try fails is never run).
                ev.took = id(sync[1])
        elif sync[0] == "wait" and resumed:
            # Woken: it takes the condition's lock back (or waits for it, if the notifier holds it).
            if _is_lock(sync[1]) and _takes_now(sync[1]):
                ev.took = id(sync[1])
        elif sync[0] == "release" or (sync[0] == "wait" and _is_lock(sync[1])):
            # Condition.wait releases the condition's lock before it parks. The rule this flag
            # feeds (a later acquisition does not race with this release: it could not have
            # gone first) holds for a lock that this release frees, and for a Semaphore only
            # when no permit is left before it: with one left, the next acquisition can go
            # first (two holders of a Semaphore(2) at once).
            target = sync[1]
            if _frees(target) if _is_lock(target) else getattr(target, "_value", None) == 0:
                ev.rel = id(target)

    # ---------------------------------------------------------------- happens-before and races
    def _analyse(self, ev: _Event, j: int) -> None:
        tid = ev.tid
        events = self.events
        last = self.last_event.get(tid)
        pre: List[int] = events[last].vc if last is not None else _NO_CLOCK
        if self.parent_event:
            par = self.parent_event.pop(tid, None)
            if par is not None:
                pre = _join(pre, events[par].vc)
        locs = self.locs
        # Whether any location that stands for several (a whole object, any attribute of a
        # name, any data) exists: most events' locations then only meet their own entries.
        wild = self.wild_any or self.wild_o or self.wild_k or self.wild_a
        # Earlier events of other threads this one depends on (its own are ordered anyway).
        deps: List[int] = []
        for loc, w in ev.accs:
            st = locs.get(loc)
            if st is not None:
                c = st.w
                if c >= 0 and events[c].tid != tid and c not in deps:
                    deps.append(c)
                if w and st.r:
                    for t, c in st.r.items():
                        if t != tid and c not in deps:
                            deps.append(c)
            if wild and (self.wild_any or self._wild_possible(loc)):
                for st2 in self._states_overlapping(loc):
                    c = st2.w
                    if c >= 0 and events[c].tid != tid and c not in deps:
                        deps.append(c)
                    if w and st2.r:
                        for t, c in st2.r.items():
                            if t != tid and c not in deps:
                                deps.append(c)
        skip = self.enabler.pop(tid, None) if self.enabler else None
        if not deps:
            vc = list(pre)
            if len(vc) <= tid:
                vc += [-1] * (tid + 1 - len(vc))
            vc[tid] = j
            ev.vc = vc
            if ev.acq is None:
                self._update_locations(ev, j)
                return
            racing: List[int] = []
        else:
            # Races of this event: dependent, another thread, not ordered through anything else
            # (the later dependencies first: what they happen after is covered).
            if len(deps) > 1:
                deps.sort(reverse=True)
            racing = []
            cover = pre
            for c in deps:
                ce = events[c]
                ct = ce.tid
                if (cover[ct] if ct < len(cover) else -1) < c:
                    if c != skip:
                        racing.append(c)
                    cover = _join(cover, ce.vc)
                # Otherwise c happens before an event the cover already includes: its clock is
                # below the cover (clocks are closed under happens-before), the join is a no-op.
            vc = cover if cover is not pre else list(pre)
            if len(vc) <= tid:
                vc += [-1] * (tid + 1 - len(vc))
            vc[tid] = j
            ev.vc = vc
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
        elif ev.took is not None:
            self.last_acq[ev.took] = j
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


def _get(vc: List[int], t: int) -> int:
    return vc[t] if t < len(vc) else -1


def _join(a: List[int], b: List[int]) -> List[int]:
    """The pointwise maximum of two clocks (a new list)."""
    la, lb = len(a), len(b)
    if la == lb:
        return list(map(max, a, b))
    if la < lb:
        a, b, la, lb = b, a, lb, la
    out = list(map(max, a[:lb], b))
    out += a[lb:]
    return out


_NO_CLOCK: List[int] = []
_REGISTERS = ((A.DEADLINES, True),)


def _is_release_of(ev: _Event, lock_id: int) -> bool:
    return ev.rel == lock_id


def _live_frames(ex: Any) -> Set[Any]:
    """The frames on the stacks of the threads of ``ex`` that have not ended (and the caller's:
    not this one, whose local would hold the set, a cycle keeping every frame in it alive)."""
    live: Set[Any] = set()
    tops: List[Any] = [sys._getframe(1)]
    for vt in ex.threads:
        if vt.state != DONE and vt.glet is not None and vt.glet.gr_frame is not None:
            tops.append(vt.glet.gr_frame)
    for f in tops:
        while f is not None and f not in live:
            live.add(f)
            f = f.f_back
    return live
