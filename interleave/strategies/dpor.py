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

Five modules, one concept each: this one (the protocol and recorder hooks, the decision at a
branch point); :mod:`.dpor_events` (events, vector clocks, races); :mod:`.dpor_tree` (nodes,
backtrack and sleep sets, the next branch, the preemption bound); :mod:`.dpor_relation` (the
dependency relation, the location index); :mod:`.dpor_operations` (pending operations, blocking).
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Set, Tuple

from ..instrument import access as A
from ..runtime import context
from ..runtime.execution import BLOCKED
from ..runtime.operation import SwitchPoint
from ..runtime.recorder import Tee
from .base import Divergence, Strategy
from .dpor_events import EventLog, _Event
from .dpor_operations import PendingOperations, _blocks, _coarse, _Pending, _sync_pending
from .dpor_relation import LocationIndex
from .dpor_tree import ExplorationTree, _Node

_LONG = 1 << 30
_EXPLORE, _FREE = 0, 1
_NO_SLEEP: frozenset = frozenset()


class DporStrategy(EventLog, ExplorationTree, LocationIndex, PendingOperations, Strategy):
    """Explores one execution per Mazurkiewicz class (source-DPOR with sleep sets)."""

    name = "dpor"
    bounded = True

    @classmethod
    def from_options(cls, seed: int, preemptions: Optional[int] = None,  # type: ignore[override]
                     order_seed: Optional[int] = None) -> DporStrategy:
        """``strategy="dpor"``: explore's seed does not change the order; ``order_seed`` does."""
        return cls(preemptions, order_seed)

    def __init__(self, preemptions: Optional[int] = None, order_seed: Optional[int] = None,
                 prefer_reads: bool = False) -> None:
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
        self.tree = (self.rng is not None or prefer_reads) and preemptions is None
        #: Unbounded only: the next branch is one added for a race whose reversal changes what
        #: a read observes (a read against a write, or two acquisitions of a lock), from
        #: anywhere in the tree, before any added for two writes only. The same classes, in
        #: another order (docs/strategies.md, section 7).
        self.prefer_reads = prefer_reads and preemptions is None
        #: Who picks at the new nodes of the first execution (None: the running thread goes on).
        #: Any order there explores the same classes; a sampler's order makes the first
        #: execution, which reverses nothing yet, a useful sample (the portfolio's DPOR).
        self.first_order: Optional[Strategy] = None
        #: At most this many switch points of the first execution while the body is the only
        #: thread; past them DPOR leaves that execution (``gave_up``) and makes no more choices.
        #: None: no limit. (The portfolio's DPOR runs first, before anyone knows whether the
        #: body starts threads, and must not trace a long lone body instruction by instruction.)
        self.lone_limit: Optional[int] = None
        self.lone_seen = 0
        self.gave_up = False
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
        self.tracker = A.AccessTracker(callbacks=True)  # one per exploration: ``forget()`` between executions
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

    #: A timeout that runs out only when no thread can run is a choice its races do not cover
    #: (see ``use_timeouts``): with one in the run, exhausting the classes is no proof.
    proves_patient_waits = False

    def exhausted(self) -> bool:
        """True once every equivalence class (within the bound) has been explored."""
        return self.done

    def new_execution(self) -> bool:
        """Prepare to replay the current path and explore its next branch."""
        if self.first_order is not None and not self.stats["executions"]:
            self.first_order.new_execution()
        if self.done:
            return False
        self._reset_execution()
        return True

    model = "instruction"
    gil = False
    tracker: A.AccessTracker

    def _reset_execution(self) -> None:
        self.ex: Any = None
        self.pend: Dict[int, Optional[_Pending]] = {}
        self.sync_accs: Dict[Any, A.Access] = {}
        self.k_event = 0  # index of the next event
        self.running: Optional[_Event] = None
        self.run_acc: A.Access = A.NONE_ACCESS
        self.replaying = 0  # points the replayed event still spans after the current one
        self.run_left = 0  # points the replayed run (consecutive events of one thread) still spans
        self.run_end = 0  # index after the last event of that run
        self.last_event: Dict[int, int] = {}  # tid -> index of its latest event
        self.parent_event: Dict[int, int] = {}  # tid -> event that spawned or woke it
        self.enabler: Dict[int, int] = {}  # tid -> event that made its blocked operation possible
        self._reset_locations()
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

    def step(self, vt: Any, point: SwitchPoint) -> None:
        """A thread reached a switch point (before executing it)."""
        if self.mode:
            return
        ex = self.ex
        if ex is None:
            ex = self._attach()
        if self.lone_limit is not None and len(ex.threads) == 1:
            self.lone_seen += 1
            if self.lone_seen > self.lone_limit:
                self.gave_up = True
                self.mode = _FREE
                self.detach()
                return
        code = point.code
        f = point.frame
        if not ex.rec_left or ex.prelude is vt:
            # It waits here for a decision (or, just started, for its starter's event to end).
            if ex.prelude is not vt:
                self._count_forced(vt.tid)
            self.pend[vt.tid] = self._operation(point)
            return
        # This point runs now without a decision: a replayed run, or the runtime runs the only
        # thread that can run.
        tid = vt.tid
        if self.run_left:
            self.run_left -= 1
            if self.replaying:
                # Within a replayed event: its later points touch nothing; remember what loads produce.
                self.replaying -= 1
                if code is not None and f is not None:
                    self.tracker.produce_only(f, code, point.offset)
                return
            # The first point of the replayed run's next event: close this one, open that one
            # (a fused path: this is most of a replayed prefix).
            if code is not None:
                acc = self.tracker.pick(f, code, point.offset, now=True) if f is not None else \
                    A.unknown("frame not found")
            else:
                f = None
                acc = _sync_pending(point.op, self.sync_accs)
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
            ev.acq = ev.took = ev.rel = ev.ended = None
            sync = acc.sync
            if sync is not None:
                self._sync_flags(ev, acc, ex.threads[tid], False)
            self.running = ev
            self.run_acc = acc
            self.replaying = ev.picks - 1 if ev.picks > 1 else 0
            return
        prev = self.pend.pop(tid, None)
        running = self.running
        if running is None or running.tid != tid:
            # Before the first decision nothing else runs: only what loads produce matters.
            if prev is not None and prev[1] is not None:
                self.tracker.produced(prev[1], prev[2], prev[0])  # type: ignore[arg-type]
            if f is not None and code is not None:
                self.tracker.produce_only(f, code, point.offset)
            return
        if prev is not None:
            # The point where the runtime decided alone: it ran just now, nothing else between.
            self._forced(tid, prev)
        self._forced(tid, self._operation(point, True))

    def _count_forced(self, tid: int) -> None:
        """Count the point the running thread last waited at for a decision the runtime never
        asked for (it ran alone), now that it asks again (no grant left, or it parked): in no
        event, a replay granting its consecutive events at once began the next one early."""
        p = self.pend.get(tid)
        running = self.running
        if p is not None and not p[3] and running is not None and running.tid == tid:
            self.pend[tid] = None
            self._forced(tid, p)

    def _forced(self, tid: int, p: _Pending) -> None:
        """A point the runtime ran without asking (``tid`` was the only thread that could run)."""
        running = self.running
        acc = p[0]
        if running is None or running.tid != tid or (not acc.locs and acc.block is None):
            # Before the first decision nothing else runs; a point that touches nothing joins
            # the running event.
            if p[1] is not None:
                self.tracker.produced(p[1], p[2], acc)  # type: ignore[arg-type]
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
        if ex.threads[current].state == BLOCKED:
            self._count_forced(current)
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
                                self.tracker.produced(p[1], p[2], p[0])  # type: ignore[arg-type]
                    else:
                        self._next_in_run(current)
                    return current, self.run_left + 1
                p = self.pend.get(current)
                if p is not None and not p[0].locs and p[0].block is None:
                    # The running event goes on through a point that touches nothing.
                    self.pend[current] = None
                    running.picks += 1
                    if p[1] is not None:
                        self.tracker.produced(p[1], p[2], p[0])  # type: ignore[arg-type]
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
        self.lone_limit = None  # only the first execution is limited: after it, off the hot path
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
        self.sync_accs = {}
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
            ex.recorder = Tee(rec, self)
        return ex

    def detach(self) -> None:
        """Stop recording the current execution (it goes on without DPOR, which makes no more choices)."""
        ex = self.ex
        if ex is None:
            return
        rec = ex.recorder
        if rec is self:
            ex.recorder = None
        elif isinstance(rec, Tee):
            ex.recorder = rec.without(self)

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
            if b is not None and not p[3]:
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
            if k and self.k is None:
                last = nodes[k - 1]
                sleep = self._next_sleep(k - 1) if last.sleep or len(last.done) != 1 else _NO_SLEEP
            else:
                sleep = _NO_SLEEP
            awake = [t for t in enabled if t not in sleep] if sleep else enabled
            if not awake:
                self.blocked_run = True
                self.mode = _FREE
                return (current if current in runnable else runnable[0]), _LONG
            # Not drawn from order_seed: a random choice here has been measured to count a class
            # twice (3 threads x 1 locked increment: 7 for 6), so new nodes keep this order.
            guide = self.first_order
            if guide is not None and len(awake) > 1 and not self.stats["executions"]:
                # The first execution's new nodes as the guide picks them (source-DPOR allows any
                # choice at a new node): the first execution is then a sample of its own.
                tid = guide.choose(awake, prev if prev in awake else awake[0], 1)[0]
                if tid not in awake:
                    tid = awake[0]
            else:
                tid = prev if prev in awake else awake[0]
            if self.k is not None and self.preempts >= self.k and prev in enabled and tid != prev:
                # Out of preemptions and the running thread is asleep: this branch is redundant
                # within the bound.
                self.blocked_run = True
                self.mode = _FREE
                return (current if current in runnable else runnable[0]), _LONG
            node = _Node(tid, sleep, tuple(enabled), disabled, self.preempts)
            if self.tree:
                self._push(node)
            else:
                nodes.append(node)
        if k and tid != prev and prev in enabled:
            self.preempts += 1
        ev = self._start_event(ex, tid, k)
        ev.picks = 1
        return tid, 1
