"""One execution of a test body: virtual threads on greenlets, scheduled by a strategy."""

from __future__ import annotations

import sys
from _thread import get_ident as _real_get_ident
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from greenlet import GreenletExit, getcurrent, greenlet

from ..errors import InconclusiveError
from ..versions import CURRENT
from .outcome import BlockedThread, Divergence, Outcome
from .tstate import TracingCounters
from .waitqueue import WaitQueue

READY, BLOCKED, DONE = 0, 1, 2

# A thread that keeps the processor this many picks in a row while others could run is made to
# yield once: correct spin-waits then terminate under every strategy.
FAIRNESS_STREAK = 1000
# Virtual idents are small numbers so that they never collide with a real pthread id.
IDENT_BASE = 0x7100
EPOCH = 1_700_000_000.0
# Blocking calls and switch points a thread may go through while it is unwound at the end of an
# execution before we give up on it (it keeps catching the exception that unwinds it).
TEARDOWN_PATIENCE = 10_000
# Greenlets that refused to unwind: kept suspended forever rather than collected, because
# collecting one resumes it outside any execution.
_ABANDONED: List[greenlet] = []
# (code, model) -> True when the code has no visible instruction: a thread running it needs a
# switch point of its own before it starts.
_NO_VISIBLE: Dict[Tuple[CodeType, str], bool] = {}


class VThread:
    """A virtual thread: one greenlet plus its scheduling state."""

    __slots__ = (
        "tid", "name", "glet", "state", "queue", "deadline", "timed_out", "site",
        "daemon", "ident", "exit_queue", "sentinel", "handle", "thread", "pending",
    )

    def __init__(self, tid: int, name: str, daemon: bool, ident: int) -> None:
        self.tid = tid
        self.name = name
        self.glet: Optional[greenlet] = None
        self.state = READY
        self.queue: Optional[WaitQueue] = None
        self.deadline: Optional[float] = None
        self.timed_out = False
        self.site: Optional[Tuple[CodeType, int]] = None
        self.pending: Any = None  # (code, offset, op) of the switch point it stopped at
        self.daemon = daemon
        self.ident = ident
        self.exit_queue = WaitQueue(self, "exit")
        self.sentinel: Any = None  # threading's tstate lock (<=3.12), released on exit
        self.handle: Any = None  # threading's _ThreadHandle (3.13), marked done on exit
        self.thread: Any = None  # the threading.Thread object, once known

    def unpark(self) -> None:
        """Runnable again: off its wait queue, no deadline."""
        self.state = READY
        self.queue = None
        self.deadline = None

    def __repr__(self) -> str:
        return f"<VThread {self.tid} {self.name} state={self.state}>"


class _Teardown(GreenletExit):
    """Thrown into leftover greenlets to unwind them when an execution ends."""


class Execution:
    """Runs ``fn`` as virtual thread 0 and every thread it starts under one strategy."""

    def __init__(
        self,
        fn: Callable[[], Any],
        strategy: Any,
        max_steps: int,
        counters: TracingCounters,
        on_greenlet_start: Callable[[], None],
        recorder: Any = None,
        wants: Callable[[CodeType], bool] = lambda code: True,
        on_run_end: Callable[[], None] = lambda: None,
        model: str = "instruction",
        on_solo_end: Optional[Callable[[], int]] = None,
        on_interrupt: Callable[[], None] = lambda: None,
    ) -> None:
        self.fn = fn
        self.model = model
        self.on_run_end = on_run_end
        self.wants = wants
        self.strategy = strategy
        self.max_steps = max_steps
        self.counters = counters
        self.on_greenlet_start = on_greenlet_start
        self.recorder = recorder
        self.threads: List[VThread] = []
        self.alive: List[VThread] = []
        self.now = 0.0
        self.steps = 0
        self.budget = 0  # picks the current grant still covers (fast path)
        self.rec_left = 0  # same, while recording: every point goes through the slow path
        self.granted = 0
        self.streak = 0
        self.forced_used = 0  # picks of a lone thread the strategy has not been told of yet
        self.every_pick = bool(getattr(strategy, "every_pick", False))
        # Solo: the current thread is the only one that can run, so its visible instructions
        # are not switch points (the back-end stops tracing them) until another thread can run.
        # Needs a back-end that can do that and a strategy that need not see those points.
        self.solo = False
        self.solo_ok = (on_solo_end is not None and not self.every_pick
                        and not getattr(strategy, "sees_lone_points", False))
        self.on_solo_end = on_solo_end or (lambda: 0)  # returns the steps it counted
        self.on_interrupt = on_interrupt  # the back-end ends loop counts early
        self.solo_steps: Callable[[], int] = lambda: 0  # loop iterations of the solo phase so far
        # Called when a thread resumes outside any trace callback, if the back-end needs it.
        self.on_resume: Optional[Callable[[], None]] = None
        self.preemptions = 0  # switches away from a thread that could have gone on
        self.runs_tid: List[int] = []
        self.runs_len: List[int] = []
        self.outcome: Optional[Outcome] = None
        self.tearing_down = False
        self.atexits: List[Callable[[], Any]] = []
        self.hub: Optional[greenlet] = None
        self.current: VThread = None  # type: ignore[assignment]
        self.os_ident = 0
        self.internal_error: Optional[BaseException] = None
        self.prelude: Optional[VThread] = None  # a new thread running threading's bootstrap
        self.prelude_parent: Optional[VThread] = None
        self.shutting_down = False  # the body has returned; non-daemon threads are being joined
        self.real_block: Any = None  # set by the watchdog: (progress mark, message)
        self.interrupts = 0  # times the watchdog interrupted a real block
        self.teardown_left = TEARDOWN_PATIENCE
        self.abandoned: List[str] = []  # threads that refused to unwind

    # ----------------------------------------------------------------- threads
    def spawn(self, func: Callable[..., Any], args: tuple = (), kwargs: Optional[dict] = None,
              name: Optional[str] = None, daemon: bool = False) -> VThread:
        """Create a virtual thread that runs ``func``; it starts when the strategy picks it."""
        tid = len(self.threads)
        vt = VThread(tid, name or f"Thread-{tid}", daemon, IDENT_BASE + tid)
        kw = kwargs or {}

        def entry() -> Optional[VThread]:
            self.on_greenlet_start()
            if tid == 0:  # the body is the calling thread: it keeps that thread's locals
                return self._run_thread(vt, func, args, kw)
            self.counters.fresh_locals()
            try:
                return self._run_thread(vt, func, args, kw)
            finally:
                self.counters.release_locals()

        vt.glet = greenlet(entry, parent=self.hub)
        self.threads.append(vt)
        self.alive.append(vt)
        return vt

    def _run_thread(self, vt: VThread, func: Callable[..., Any], args: tuple, kw: dict) -> Optional[VThread]:
        try:
            func(*args, **kw)
        except GreenletExit:
            raise
        except SystemExit:
            pass
        except BaseException as exc:  # noqa: BLE001 - any escape from a thread is a finding
            self.thread_failed(vt, exc)
        return self._exit(vt)

    def run_prelude(self, vt: VThread) -> None:
        """Run a just-started thread up to its first switch point in code under test.

        What it runs until then is threading's bootstrap (set ident, announce started): no
        other thread can observe it, so running it now loses no interleaving, and the starter
        does not have to park on the thread's "started" event.
        """
        if self.solo:
            self._end_solo()
        parent = self.current
        budget = self.budget
        rec_left = self.rec_left
        # A thread still in its own prelude may start one (its code offered no switch point
        # yet): that prelude resumes when the new one ends.
        outer = (self.prelude, self.prelude_parent)
        self.prelude = vt
        self.prelude_parent = parent
        self.current = vt
        self.budget = self.rec_left = 0  # the child's first point must come to point()
        self._switch_to(vt)
        self.prelude, self.prelude_parent = outer
        self.current = parent
        self.budget = budget
        self.rec_left = rec_left
        self.cut_grant()  # a new thread can run: the strategy may want to switch to it
        if CURRENT.settrace_rearm:
            # The child's greenlet called sys.settrace (settrace back-end), which cleared this
            # thread's use_tracing flag on 3.10/3.11: without re-arming it, the starter's next
            # switch points went unreported until the child ran again.
            tr = sys.gettrace()
            if tr is not None:
                sys.settrace(tr)

    def _end_prelude(self) -> bool:
        """In a prelude: hand control back to the starter. True if we were in one."""
        vt = self.prelude
        if vt is None or vt is not self.current:
            return False
        self.prelude = None
        parent = self.prelude_parent
        self.prelude_parent = None
        self._switch_to(parent)  # type: ignore[arg-type]
        return True

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

    def interrupt(self, exc: BaseException) -> None:
        """Stop at the next switch point, loop iteration or wait (Ctrl-C: called from a signal handler).

        Nothing is raised here: raised at an arbitrary instruction, the interrupt could land in
        the scheduler or in threading's bookkeeping and leave half-done state behind. The
        execution ends at its next switch point and ``run`` raises ``exc`` after unwinding.
        """
        if self.internal_error is None:
            self.internal_error = exc
        self.budget = self.rec_left = 0
        self.on_interrupt()

    def thread_failed(self, vt: VThread, exc: BaseException) -> None:
        """Record an uncaught exception in a thread (the first failure wins).

        What is not an ``Exception`` (Ctrl-C, a test runner's timeout or skip) and interleave's
        own errors (an inconclusive run) are not findings about the code under test: they stop
        the exploration and ``explore`` raises them once everything is restored.
        """
        if isinstance(exc, InconclusiveError) or not isinstance(exc, Exception):
            self.abort(exc)
            return
        if self.outcome is None and not self.tearing_down:
            self.outcome = Outcome("exception", exception=exc, thread=vt.name, tid=vt.tid)

    def _exit(self, vt: VThread) -> Optional[VThread]:
        vt.state = DONE
        self.alive.remove(vt)
        if vt.sentinel is not None:
            vt.sentinel.release_unscheduled()
        if vt.handle is not None:
            vt.handle._set_done()
        vt.exit_queue.unpark_all()
        if self.prelude is vt:
            self.prelude = None
            parent, self.prelude_parent = self.prelude_parent, None
            return parent
        if self.tearing_down:
            return None
        if self.outcome is not None or vt.tid == 0:
            self._close_grant()
            return None
        return self._decide()

    def join_thread(self, vt: VThread, timeout: Optional[float] = None) -> bool:
        """Block until ``vt`` has finished; False on timeout."""
        if vt.state == DONE:
            return True
        return self.park(vt.exit_queue, timeout)

    # ------------------------------------------------------------ run
    def run(self) -> Outcome:
        """Run the body and every thread it starts to the end; return what happened."""
        self.hub = getcurrent()
        self.os_ident = _real_get_ident()
        main = self.spawn(self._main_body, name="MainThread")
        main.ident = self.os_ident  # the body keeps its real thread object
        self.current = main
        self.runs_tid.append(0)
        self.runs_len.append(0)
        self.granted = 1
        self.budget = 0
        saved = self.counters.save()
        nxt: Optional[VThread] = main
        try:
            while nxt is not None:
                self.current = nxt
                nxt = nxt.glet.switch()  # type: ignore[union-attr]
                self.counters.restore(saved)
        finally:
            self.counters.restore(saved)
            if self.solo:
                self._end_solo()
            # Before unwinding: an exception thrown through a trace function drops it (<3.12).
            self.on_run_end()
            try:
                self._teardown()
            finally:
                # Unwinding resumes each leftover greenlet, which puts back its own thread-state
                # slots and frees its thread-locals on the way out: the caller's slots (its
                # ``threading.local`` data) must come back after that, not before.
                self.counters.restore(saved)
                self.counters.clear_tracing()
        if self.internal_error is not None:
            raise self.internal_error
        if self.outcome is None:
            self.outcome = Outcome("passed")
        self.outcome.steps = self.steps
        self.outcome.preemptions = self.preemptions
        self.outcome.runs = list(zip(self.runs_tid, self.runs_len))
        self.outcome.lone_points = not self.solo_ok
        self.outcome.virtual_time = self.now
        return self.outcome

    def _main_body(self) -> None:
        self.fn()
        self._shutdown()

    def _shutdown(self) -> None:
        """What the interpreter does at exit: threading atexit hooks, then join non-daemons."""
        self.shutting_down = True
        while self.atexits:
            self.atexits.pop()()
        for vt in list(self.threads[1:]):
            if not vt.daemon and vt.state != DONE:
                self.join_thread(vt)

    def _teardown(self) -> None:
        """Unwind every thread still alive, so that its ``finally`` blocks run under control."""
        self.tearing_down = True
        self.budget = 1 << 60
        # Executor workers log any exception that ends them, including this unwinding.
        logger = _quiet_logger("concurrent.futures")
        try:
            self._unwind_all()
        finally:
            if logger is not None:
                logger.disabled = False

    def _unwind_all(self) -> None:
        for vt in self.threads:
            g = vt.glet
            if g is not None and g and not g.dead:
                # Its finally blocks ask for their ident (threading's _delete) and take locks.
                self.current = vt
                self.teardown_left = TEARDOWN_PATIENCE
                try:
                    g.throw(_Teardown)
                except _Teardown:
                    pass
                except BaseException:  # noqa: BLE001 - a thread's cleanup must not mask the finding
                    pass

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
        if self.solo:
            self._end_solo()
        left = self.budget + self.rec_left
        if left:
            self.granted -= left
            self.budget = self.rec_left = 0

    def _end_solo(self) -> None:
        self.solo = False
        self.steps += self.on_solo_end()

    def solo_visible(self, code: CodeType, offset: int) -> None:
        """A visible instruction of a thread running alone: recorded if recording, not counted."""
        # Nothing else is updated (``site``, ``pending``): a run that does not record never
        # sees these instructions, and both must decide alike.
        rec = self.recorder
        if rec is not None:
            rec.step(self.current, code, offset, None)

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
        used = self.granted - self.budget - self.rec_left
        return self.steps + used + (self.solo_steps() if self.solo else 0)

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
            line = _line_of(code, offset)
            self.outcome = Outcome(
                "step-limit", thread=cur.name, tid=cur.tid,
                detail=f"{self.max_steps} loop iterations; the last one at {code.co_filename}:{line} "
                       f"in {code.co_name}")
            self.outcome.loop_site = (code.co_filename, line, code.co_name)
        self._close_grant()
        self._stop()

    def _close_grant(self) -> int:
        used = self.granted - self.budget - self.rec_left
        self.steps += used
        self.runs_len[-1] += used
        self.granted = self.budget = self.rec_left = 0
        return used

    def _runnable(self) -> List[int]:
        ready: List[int] = []
        best: Optional[float] = None
        timers: List[int] = []
        for t in self.alive:
            if t.state == READY:
                ready.append(t.tid)
            elif t.deadline is not None:
                if best is None or t.deadline < best:
                    best = t.deadline
                    timers = [t.tid]
                elif t.deadline == best:
                    timers.append(t.tid)
        if timers:
            ready.extend(timers)
            ready.sort()
        return ready

    def _decide(self) -> Optional[VThread]:
        """Close the current grant and pick who runs next; None when the execution is over."""
        cur = self.current
        if self.solo:
            self._end_solo()
        used = self._close_grant()
        runnable = self._runnable()
        if not runnable:
            if self.alive:
                self._deadlock()
            return None
        if self.steps >= self.max_steps:
            self.outcome = Outcome("step-limit", thread=cur.name, tid=cur.tid)
            return None
        alone = len(runnable) == 1
        if cur.state != DONE:
            # A spinner that sleeps (``time.sleep(0)`` in a loop) is a timer that is always due:
            # it counts as going on, or a strategy that favours it would starve everyone else.
            self.streak += used
            if self.streak >= FAIRNESS_STREAK and len(runnable) > 1 and cur.tid in runnable:
                runnable = [t for t in runnable if t != cur.tid]
        if len(runnable) == 1 and runnable[0] == cur.tid and cur.state == READY and not self.every_pick:
            # Alone, it goes on: no choice to make, so the strategy is not asked. Nobody else
            # can become runnable without a wake-up or a thread start, and both cut the grant.
            # The strategy is told the picks used so far with its next decision (they are all
            # this thread's: ``used`` stays per run). A strategy that must see every pick says
            # so with ``every_pick = True``.
            self.forced_used += used
            if self.solo_ok:
                self.solo = True
                return cur
            tid, n = cur.tid, 1 << 30
        else:
            tracing = self.counters.tracing
            # A strategy is not the program: its Python code must not be traced. Decisions
            # taken at a sync point run outside any callback, and on 3.10/3.11 tracing the
            # strategy's own calls (POS's dis lookups) made replays diverge.
            tracing.value += 1
            try:
                tid, n = self.strategy.choose(runnable, cur.tid, used + self.forced_used)
            except Divergence as exc:
                self.outcome = Outcome("divergence", thread=cur.name, tid=cur.tid, detail=str(exc))
                return None
            except Exception as exc:  # noqa: BLE001 - a strategy bug is ours, not the user's
                self.internal_error = exc
                self.outcome = Outcome("internal-error", thread=cur.name, tid=cur.tid)
                return None
            finally:
                tracing.value -= 1
            self.forced_used = 0
        t = self.threads[tid]
        if t is not cur:
            self.streak = 0
            if cur.state == READY and cur.tid in runnable:
                self.preemptions += 1
            if self.recorder is not None:
                self.recorder.switch(cur.tid, tid, cur.state == READY)
        if t.state == BLOCKED:  # a timed waiter whose deadline is the earliest: let it time out
            t.queue.waiters.remove(t)  # type: ignore[union-attr]
            if t.deadline is not None and t.deadline > self.now:
                self.now = t.deadline
            t.unpark()
            t.timed_out = True
        if n < 1:
            n = 1
        room = self.max_steps - self.steps
        if n > room:
            n = room
        if n > FAIRNESS_STREAK:
            n = FAIRNESS_STREAK  # come back to check fairness even under a long grant
        if self.runs_tid[-1] != tid:
            self.runs_tid.append(tid)
            self.runs_len.append(0)
        if alone and self.solo_ok:
            # It runs alone from its first pick on, whatever the grant: when solo begins must
            # not depend on how a strategy cut its grants, or replays would diverge.
            n = 1
            self.solo = True
        self.granted = n
        if self.recorder is None:
            self.budget = n - 1
        else:
            self.rec_left = n - 1
        return t

    def point(self, code: Optional[CodeType], offset: int, op: Any = None) -> None:
        """A switch point whose grant has run out (or that is being recorded)."""
        if self.tearing_down:
            self._teardown_tick()
            return
        if self.internal_error is not None:
            self._stop()
        if self.solo:
            if code is not None:
                self.solo_visible(code, offset)
                return
            # A sync point of a thread running alone: no choice to make, nothing to count.
            self.current.pending = (None, 0, op)
            if self.recorder is not None:
                self.recorder.step(self.current, None, 0, op)
            return
        rec = self.recorder
        cur = self.current
        if code is not None:
            cur.site = (code, offset)
        cur.pending = (code, offset, op)
        if rec is not None:
            # Before a prelude ends too: a new thread's first operation belongs in the trace.
            rec.step(cur, code, offset, op)
        if self.prelude is not None and self._end_prelude():
            return
        if rec is not None and self.rec_left:
            self.rec_left -= 1
            return
        nxt = self._decide()
        if nxt is None:
            self._stop()
        elif nxt is not cur:
            self._switch_to(nxt)

    def sync_point(self, op: Any, caller: FrameType) -> None:
        """Switch point before a synchronisation operation called from code under test.

        Operations the standard library performs internally (threading's own Events in
        Thread.start, Condition's waiter locks) still block and wake, but are not places to
        preempt: the user's call into them already was one. An explicit ``interleave.switch()``
        is a switch point wherever it is written.
        """
        if not self.wants(caller.f_code) and op[0] != "switch":
            return
        if self.budget:
            self.budget -= 1
            return
        self.point(None, 0, op)

    def needs_start_point(self, fn: Any) -> bool:
        """Whether a thread running ``fn`` would reach no switch point of its own at first."""
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        if code is None or not self.wants(code):
            return True
        key = (code, self.model)
        hit = _NO_VISIBLE.get(key)
        if hit is None:
            from ..instrument.opcodes import visible_offsets

            if len(_NO_VISIBLE) > 4096:
                _NO_VISIBLE.clear()
            hit = _NO_VISIBLE[key] = not visible_offsets(code, self.model)
        return hit

    def thread_point(self, op: Any) -> None:
        """A switch point in a thread's own life, before it runs code that offers none."""
        if self.tearing_down:
            return
        if self.budget:
            self.budget -= 1
            return
        self.point(None, 0, op)

    def _switch_to(self, nxt: VThread) -> None:
        self.current = nxt
        counters = self.counters
        saved = counters.save()
        try:
            nxt.glet.switch()  # type: ignore[union-attr]
        finally:
            counters.restore(saved)
            if self.on_resume is not None and not counters.tracing.value:
                self.on_resume()

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
            queue = WaitQueue(None, "sleep")
        cur.state = BLOCKED
        cur.queue = queue
        cur.timed_out = False
        cur.deadline = None if timeout is None else self.now + max(0.0, timeout)
        queue.waiters.append(cur)
        if self.prelude is cur:
            self._end_prelude()
            return not cur.timed_out
        nxt = self._decide()
        if nxt is None:
            self._stop()
        elif nxt is not cur:
            self._switch_to(nxt)
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


def _line_of(code: CodeType, offset: int) -> int:
    """The source line of the instruction at ``offset`` (the function's first line if unknown)."""
    line = code.co_firstlineno
    for start, _end, ln in code.co_lines():
        if start > offset:
            break
        if ln is not None:
            line = ln
    return line


def _quiet_logger(name: str) -> Any:
    """Disable an existing, enabled logger for a moment; return it (to re-enable) or None."""
    logging = sys.modules.get("logging")
    if logging is None:
        return None
    logger = logging.Logger.manager.loggerDict.get(name)
    if logger is None or not isinstance(logger, logging.Logger) or logger.disabled:
        return None
    logger.disabled = True
    return logger


def user_frame_site(frame: Optional[FrameType]) -> Optional[Tuple[str, int, str]]:
    """The innermost frame of code under test: (filename, line, function)."""
    from ..instrument.filter import is_user_code_file

    f = frame
    while f is not None:
        if is_user_code_file(f.f_code.co_filename):
            return (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None


def current_vthread() -> Optional[VThread]:
    """The virtual thread running now, if a run is active on this greenlet's execution."""
    from . import context

    ex = context.active
    if ex is None:
        return None
    g = getcurrent()
    cur = ex.current
    return cur if cur is not None and cur.glet is g else None
