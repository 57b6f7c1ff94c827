"""The scheduling point: grants, the strategy's choice, switching greenlets, parking and deadlocks.

``Scheduling`` is the part of an ``Execution`` that runs at every switch point; the thread life
cycle (``lifecycle``) and the run itself (``execution``) build on it.
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from greenlet import GreenletExit, getcurrent, greenlet

from .blocked import SLEEP_END, timed_out_early, waiting
from .fairness import FAIRNESS_STREAK, must_yield, ran_at_last, timeout_passed_over
from .headroom import LOW, with_room
from .operation import Op, OpKind, SwitchPoint
from .outcome import BlockedThread, Divergence, Outcome
from .tstate import TracingCounters
from .vthread import BLOCKED, DONE, READY, VThread, WaitQueue, with_due_timers
from .where import frame_running, line_of, stand_at

_getframe = sys._getframe
# ``Op(...)`` through its generated ``__new__`` is a Python call; the tuple constructor is not.
_new_tuple = tuple.__new__

# Blocking calls and switch points a thread may go through while it is unwound at the end of an
# execution before we give up on it (it keeps catching the exception that unwinds it).
TEARDOWN_PATIENCE = 10_000
# Greenlets that refused to unwind: kept suspended forever rather than collected, because
# collecting one resumes it outside any execution.
_ABANDONED: List[greenlet] = []


class _Teardown(GreenletExit):
    """Thrown into leftover greenlets to unwind them when an execution ends."""

    def __str__(self) -> str:
        # Code under test that logs every exception it catches (asyncio's shutdown does) shows this.
        return "interleave is ending this execution here (not an error in the code under test)"


class Scheduling:
    """Switch points of one execution: whether to go on, whom the strategy picks, and the switch."""

    # Slots, not an instance dict: an execution has some fifty attributes, past the thirty that
    # CPython keeps in a shared-key dict, so with a dict each execution built its own table
    # (about 2 microseconds in ``__init__``) and every attribute access went through a hashed
    # lookup; the switch-point path reads a dozen of them per point.
    __slots__ = (
        "fn", "model", "wants", "wanted_files", "strategy", "max_steps", "counters", "remaining",
        "recorder", "threads", "alive", "now", "steps", "budget", "rec_left", "granted", "streak",
        "forced_used", "every_pick", "solo", "solo_ok", "on_solo_end", "on_resume", "preemptions",
        "runs_tid", "runs_len", "outcome", "tearing_down", "hub", "current", "internal_error",
        "prelude", "prelude_parent", "shutting_down", "real_block", "solo_steps", "teardown_left",
        "expired", "abandoned", "when_stuck", "timers", "fair_yields", "fair_limit", "probe", "starved",
        "lock_hook", "ended_daemons", "timers_held",
    )

    # Set by ``Execution.__init__``; declared here for the type checker.
    fn: Callable[[], Any]
    model: str
    wants: Callable[[CodeType], bool]
    wanted_files: Dict[str, bool]
    strategy: Any
    max_steps: int
    counters: TracingCounters
    remaining: Any  # the thread's remaining recursion depth (headroom.py), or None
    recorder: Any
    #: Told of lock operations that are no switch points (the standard library's own, a thread's
    #: end) as ``lock_hook(acquired, lock)``: the race check's happens-before edges. Usually None.
    lock_hook: Optional[Callable[[bool, Any], None]]
    threads: List[VThread]
    alive: List[VThread]
    now: float
    steps: int
    budget: int
    rec_left: int
    granted: int
    streak: int
    forced_used: int
    every_pick: bool
    solo: bool
    solo_ok: bool
    on_solo_end: Callable[[], int]
    on_resume: Optional[Callable[[], None]]
    preemptions: int
    runs_tid: List[int]
    runs_len: List[int]
    outcome: Optional[Outcome]
    tearing_down: bool
    hub: Optional[greenlet]
    current: VThread
    internal_error: Optional[BaseException]
    prelude: Optional[VThread]
    prelude_parent: Optional[VThread]
    shutting_down: bool
    real_block: Any
    solo_steps: Callable[[], int]
    teardown_left: int
    expired: List[Tuple[BlockedThread, float]]  # see ``blocked.timed_out_early``
    when_stuck: bool  # ``timeouts="when-stuck"``: a timeout runs out only when no thread can run
    timers: bool  # some thread has waited with a timeout: only then can a blocked one be due
    timers_held: bool  # a thread passed over by EARLY_TIMEOUTS early timeouts waits to run (fairness.py)
    fair_yields: int  # times the fairness bound made a thread yield (``fairness.py``)
    starved: Optional[List[int]]  # who a thread yielded to, first whenever ready until one runs on
    fair_limit: int  # the streak at which the running thread is next asked whether it spins
    probe: Any  # the running thread followed to see whether it spins (``fairness.Probe``), or None
    abandoned: List[str]

    def abort(self, exc: BaseException) -> None:
        """End the execution at the next switch point; ``run`` then raises ``exc``.

        Even if the code under test catches ``exc``, its next switch point or wait stops it.
        """
        block = self.real_block
        if block is not None and type(exc).__name__ == "_Interrupted":
            exc = block[1]  # the watchdog's asynchronous stand-in: the error it meant
        if self.internal_error is None:
            self.internal_error = exc
        self.outcome = Outcome("internal-error", thread=self.current.name, tid=self.current.tid)

    def _end_prelude(self) -> bool:
        """In a prelude: hand control back to the starter. True if we were in one."""
        vt = self.prelude
        if vt is None or vt is not self.current:
            return False
        self.prelude = None
        parent = self.prelude_parent
        self.prelude_parent = None
        self.counters.switch_to(self, parent)
        return True

    def _teardown_tick(self) -> None:
        """One blocking call or switch point of a thread being unwound; abandon it if it never ends."""
        self.teardown_left -= 1
        if self.teardown_left > 0:
            return
        # It swallows _Teardown (a bare ``except:`` in a loop): it would never finish. Leave it
        # suspended for good; keeping a reference stops greenlet from unwinding it later, at a
        # moment nobody controls.
        _ABANDONED.append(getcurrent())
        self.abandoned.append(self.current.name)
        counters = self.counters
        saved = counters.save()
        self.hub.switch(None)  # type: ignore[union-attr]
        counters.restore(saved)  # pragma: no cover - never resumed

    # ------------------------------------------------------------ scheduling
    def cut_grant(self) -> None:
        """End the current grant at the next switch point (the set of runnable threads grew)."""
        if self.solo:  # ``_end_solo``, written out: a wake-up or a start ends most solo phases
            self.solo = False
            self.steps += self.on_solo_end()
        left = self.budget + self.rec_left
        if left:
            self.granted -= left
            self.budget = self.rec_left = 0

    def _end_solo(self) -> None:
        self.solo = False
        self.steps += self.on_solo_end()

    def solo_visible(self, code: CodeType, offset: int, frame: Optional[FrameType] = None) -> None:
        """A visible instruction of a thread running alone: recorded if recording, not counted."""
        # Nothing else is updated (``site``, ``pending``): a run that does not record never
        # sees these instructions, and both must decide alike.
        rec = self.recorder
        if rec is not None:
            if frame is None:
                frame = frame_running(code, _getframe(1))
            rec.step(self.current, SwitchPoint(code, offset, None, frame))

    def solo_expired(self) -> None:
        """A thread running alone has used every step left: its next switch point ends the run.

        While a thread runs alone only its loop iterations count as steps: the back-end
        counts the backward jumps of code it stopped tracing (the same whether the run
        records or not) and calls this when they reach ``max_steps``. Tracing resumes, and
        the next visible instruction (the loop has one: that is why it was not traced) stops
        the execution at the step limit, so that a lone endless loop still ends.
        """
        self._end_solo()

    def live_steps(self) -> int:
        """Steps taken so far, counted to the switch point or loop iteration running now."""
        return self.steps + self.granted - self.budget - self.rec_left + (self.solo_steps() if self.solo else 0)

    def loop_limit(self, code: CodeType, offset: int) -> None:
        """The execution's threads have run ``max_steps`` loop iterations: end it at the step limit.

        Called by the back-end at a backward jump, whatever the loop contains: a loop with no
        visible instruction (``while True: pass``) offers no switch point, and would otherwise
        never end.
        """
        if self.tearing_down:
            self._teardown_tick()
            return
        if self.solo:
            self._end_solo()
        if self.internal_error is not None:  # interrupted: stop here
            self._stop()
        if self.outcome is None:
            cur = self.current
            line = line_of(code, offset)
            self.outcome = Outcome(
                "step-limit", thread=cur.name, tid=cur.tid,
                detail=f"{self.max_steps} loop iterations; the last one at {code.co_filename}:{line} "
                       f"in {code.co_name}")
            self.outcome.loop_site = (code.co_filename, line, code.co_name)
            self.outcome.waiting = waiting(self)
        self._close_grant()
        self._stop()

    def _close_grant(self) -> int:
        used = self.granted - self.budget - self.rec_left
        self.steps += used
        self.runs_len[-1] += used
        self.granted = self.budget = self.rec_left = 0
        return used

    def _decide(self) -> Optional[VThread]:
        """Close the current grant and pick who runs next; None when the execution is over."""
        # Every execution makes a few dozen of these: attributes read more than once are read
        # into locals, and the list of runnable threads is built in one comprehension.
        cur = self.current
        if self.solo:
            self.solo = False  # ``_end_solo``
            self.steps += self.on_solo_end()
        used = self.granted - self.budget - self.rec_left  # ``_close_grant``, at every decision
        steps = self.steps = self.steps + used
        self.runs_len[-1] += used
        self.granted = self.budget = self.rec_left = 0
        alive = self.alive
        runnable = [t.tid for t in alive if t.state == READY]
        if len(runnable) != len(alive) and self.timers and not (runnable and (self.when_stuck or self.timers_held)):
            runnable = with_due_timers(alive, runnable, self.now)
        if not runnable:
            if alive:
                self._deadlock()
            return None
        max_steps = self.max_steps
        if steps >= max_steps:
            self.outcome = Outcome("step-limit", thread=cur.name, tid=cur.tid)
            self.outcome.waiting = waiting(self)
            return None
        alone = len(runnable) == 1
        ctid = cur.tid
        state = cur.state
        starved = self.starved
        if starved is not None:
            if ctid in starved and (state != BLOCKED or used > 1):
                # It ran on, not blocking at its first step: the yield did its job. Judged by the
                # steps it took, not by where the grant ended (a replay's grants end elsewhere).
                self.starved = None
            else:
                # The yield came while the spinner held what they needed (a lock it polls under):
                # they blocked at once. They go first whenever they can run, until one runs on.
                first = [t for t in runnable if t in starved]
                if first:
                    runnable = first
        if state != DONE:
            # A spinner that sleeps (``time.sleep(0)`` in a loop) is a timer that is always due:
            # it counts as going on, or a strategy that favours it would starve everyone else.
            self.streak += used
            if self.streak >= self.fair_limit and not alone and ctid in runnable:
                if must_yield(self, cur):
                    runnable = self.starved = [t for t in runnable if t != ctid]
                    # Schedules in which it ran on are never explored: no exhausted search is a proof.
                    self.fair_yields += 1
        if len(runnable) == 1 and runnable[0] == ctid and state == READY and not self.every_pick:
            # Alone, it goes on: no choice, the strategy is not asked (nobody else can become
            # runnable without a wake-up or a start, which cut the grant); it is told the picks used
            # with its next decision. A strategy that must see every pick sets ``every_pick``.
            self.forced_used += used
            if self.solo_ok:
                self.solo = True
                return cur
            tid, n = ctid, 1 << 30
        else:
            tracing = self.counters.tracing
            # A strategy is not the program: its code must not be traced (on 3.10/3.11 tracing
            # POS's dis lookups made replays diverge). Decisions at a sync point run outside any
            # callback; inside a back-end callback (most decisions) the counter is already up.
            inside = tracing.value
            if not inside:
                tracing.value = 1
            try:
                tid, n = self.strategy.choose(runnable, ctid, used + self.forced_used)
            except Divergence as exc:
                self.outcome = Outcome("divergence", thread=cur.name, tid=ctid, detail=str(exc))
                return None
            except Exception as exc:  # noqa: BLE001 - a strategy bug is ours, not the user's
                self.internal_error = exc
                self.outcome = Outcome("internal-error", thread=cur.name, tid=ctid)
                return None
            finally:
                if not inside:
                    tracing.value = 0
            self.forced_used = 0
        t = self.threads[tid]
        if t.passed_over:
            ran_at_last(self, t)
        rec = self.recorder
        if t is not cur:
            self.streak = 0
            self.fair_limit = FAIRNESS_STREAK
            self.probe = None
            if state == READY and ctid in runnable:
                self.preemptions += 1
            if rec is not None:
                rec.switch(ctid, tid, state == READY)
        if t.state == BLOCKED:  # a timed waiter whose deadline is the earliest: let it time out
            if rec is not None:  # the report names a timeout run out early
                self.expired.extend(timed_out_early(self, t))
            t.queue.waiters.remove(t)  # type: ignore[union-attr]
            if t.deadline is not None and t.deadline > self.now:
                self.now = t.deadline
                timeout_passed_over(self, t)  # the threads that could run meanwhile were passed over
            t.unpark()
            t.timed_out = True
        if n < 1:
            n = 1
        room = max_steps - steps
        if n > room:
            n = room
        # Come back when the streak reaches the fairness bound, exactly: a grant that crossed it
        # would be checked wherever it happened to end, and a replay, whose grants end elsewhere
        # (at the recorded runs' ends), would decide differently.
        gap = self.fair_limit - self.streak
        if gap <= 0:
            gap = FAIRNESS_STREAK  # past it alone: nobody to yield to until someone can run
        if n > gap:
            n = gap
        if self.probe is not None and t is cur:
            n = 1  # followed point by point until it stands where the probe began (fairness.py)
        if self.runs_tid[-1] != tid:
            self.runs_tid.append(tid)
            self.runs_len.append(0)
        if alone and self.solo_ok:
            # It runs alone from its first pick on, whatever the grant: when solo begins must
            # not depend on how a strategy cut its grants, or replays would diverge.
            n = 1
            self.solo = True
        self.granted = n
        if rec is None:
            self.budget = n - 1
        else:
            self.rec_left = n - 1
        return t

    def point(self, code: Optional[CodeType], offset: int, op: Optional[Op] = None,
              frame: Optional[FrameType] = None) -> None:
        """A switch point whose grant has run out (or that is being recorded).

        At an instruction the back-end passes ``code`` and ``offset`` (the frame running them is
        found here, once); at a synchronisation operation the primitive's ``op`` and the frame
        that called it.
        """
        if getcurrent() is self.hub:
            # Code run on the scheduler's own greenlet (a weakref callback or finalizer fired
            # when the run ended and dropped the body's frame) belongs to no virtual thread:
            # nothing to choose, and stopping the run from here would raise inside the trace
            # function, which drops it (3.10/3.11).
            return
        remaining = self.remaining
        if remaining is not None and remaining.value < LOW:  # near the recursion limit
            return with_room(remaining, self.point, code, offset, op, frame)
        if self.tearing_down:
            self._teardown_tick()
            return
        if self.internal_error is not None:
            self._stop()
        rec = self.recorder
        if code is not None and frame is None and rec is not None:
            frame = frame_running(code, _getframe(1))
        cur = self.current
        if self.solo:
            if code is not None:
                self.solo_visible(code, offset, frame)
                return
            # A sync point of a thread running alone: no choice to make, nothing to count.
            here = stand_at(cur, None, 0, op, frame)
            if rec is not None:
                rec.step(cur, here)
            here.frame = None
            return
        pending = cur.pending  # ``stand_at`` written out: this is the path of every decision
        if pending is None:
            pending = cur.pending = SwitchPoint(code, offset, op, frame)
        else:
            pending.code = code
            pending.offset = offset
            pending.op = op
            pending.frame = frame
            pending.resumes = False
        here = pending
        try:
            if rec is not None:
                # Before a prelude ends too: a new thread's first operation belongs in the trace.
                rec.step(cur, here)
            if self.prelude is not None and self._end_prelude():
                return
            if rec is not None and self.rec_left:
                self.rec_left -= 1
                return
            nxt = self._decide()
            if nxt is None:
                self._stop()
            elif nxt is not cur:
                self.counters.switch_to(self, nxt)  # the switch (``TracingCounters._compile``)
        finally:
            here.frame = None  # it goes on from here: the frame is no longer where it stands

    def sync_point(self, kind: OpKind, target: Any, caller: FrameType, blocking: bool = False,
                   timeout: Optional[float] = None) -> None:
        """Switch point before a synchronisation operation called from code under test.

        The primitive declares what it is about to do: ``kind`` on ``target``, and whether it
        would wait (``blocking``) and for how long at most (``timeout``, None for no limit).
        Operations the standard library performs internally (threading's own Events in
        Thread.start, Condition's waiter locks) still block and wake, but are not places to
        preempt: the user's call into them already was one. An explicit ``interleave.switch()``
        is a switch point wherever it is written.
        """
        if kind is OpKind.SWITCH or self.wants(caller.f_code):
            self.user_point(kind, target, caller, blocking, timeout)

    def user_point(self, kind: OpKind, target: Any, caller: FrameType, blocking: bool = False,
                   timeout: Optional[float] = None) -> None:
        """``sync_point`` for a caller the primitive already found to be code under test.

        A primitive the standard library calls at every thread start (the Lock under
        threading's Events and the tstate lock) checks its caller against ``wanted_files``
        itself and skips the call altogether for the standard library's own operations.
        """
        if self.budget:
            self.budget -= 1
            return
        self.point(None, 0, _new_tuple(Op, (kind, target, blocking, timeout)), caller)

    def _stop(self) -> None:
        """End the execution from inside a thread; this greenlet is unwound by teardown."""
        counters = self.counters
        saved = counters.save()
        try:
            self.hub.switch(None)  # type: ignore[union-attr]
        finally:
            counters.restore(saved)
        raise _Teardown()

    def park(self, queue: Optional[WaitQueue], timeout: Optional[float] = None) -> bool:
        """Block the current thread on ``queue``; True if unparked, False if it timed out."""
        if self.tearing_down:
            # Nothing will ever wake it: unwinding goes on (a real wait would hang the process).
            self._teardown_tick()
            raise _Teardown()
        if self.internal_error is not None:
            self._stop()
        cur = self.current
        if queue is None:
            queue = WaitQueue(None, SLEEP_END)
        here = cur.pending
        if here is None:
            cur.pending = SwitchPoint(None, 0, None, None, True)
        else:
            here.frame = None
            here.resumes = True
        cur.state = BLOCKED
        cur.queue = queue
        cur.timed_out = False
        # From the time this thread has seen: its clock may be a few ticks past ``now`` (vtime).
        if timeout is None:
            cur.deadline = None
        else:
            cur.deadline = max(cur.clock, self.now) + max(0.0, timeout)
            self.timers = True
        queue.waiters.append(cur)
        if self.prelude is cur:
            self._end_prelude()
            return not cur.timed_out
        nxt = self._decide()
        if nxt is None:
            self._stop()
        elif nxt is not cur:
            self.counters.switch_to(self, nxt)
        return not cur.timed_out

    def _deadlock(self) -> None:
        blocked = [self.describe_blocked(t) for t in self.alive]
        self.outcome = Outcome("deadlock", blocked=blocked, thread=self.current.name,
                               tid=self.current.tid)

    def describe_blocked(self, t: VThread) -> BlockedThread:
        """What a blocked thread waits for, who holds it, and where it stopped."""
        from .blocked import describe

        frame = sys._getframe() if t is self.current else (t.glet.gr_frame if t.glet else None)
        return BlockedThread(**describe(self, t, frame))
