"""One execution of a test body: virtual threads on greenlets, scheduled by a strategy."""

from __future__ import annotations

from _thread import get_ident as _real_get_ident
from contextvars import copy_context
from types import CodeType
from typing import Any, Callable, Dict, List, Optional

from greenlet import getcurrent, greenlet

from .fairness import FAIRNESS_STREAK
from .headroom import remaining_depth
from .lifecycle import HANDOFF, ThreadLife, Worker
from .outcome import BlockedThread, Outcome
from .scheduling import TEARDOWN_PATIENCE
from .tstate import TracingCounters
from .vthread import BLOCKED, DONE, IDENT_BASE, READY, VThread

__all__ = ["BLOCKED", "DONE", "IDENT_BASE", "READY", "Execution", "VThread"]


def _none_counted() -> int:
    """No steps: what a back-end without solo phases counts (one function, not a lambda per execution)."""
    return 0


class Execution(ThreadLife):
    """Runs ``fn`` as virtual thread 0 and every thread it starts under one strategy."""

    __slots__ = ("on_run_end", "on_interrupt", "os_ident", "interrupts", "patient_waits", "__weakref__")

    def __init__(
        self,
        fn: Callable[[], Any],
        strategy: Any,
        max_steps: int,
        counters: TracingCounters,
        on_greenlet_start: Optional[Callable[[], None]],
        recorder: Any = None,
        wants: Callable[[CodeType], bool] = lambda code: True,
        on_run_end: Callable[[], None] = lambda: None,
        model: str = "instruction",
        on_solo_end: Optional[Callable[[], int]] = None,
        on_interrupt: Callable[[], None] = lambda: None,
        workers: Optional[List[Worker]] = None,
        wanted_files: Optional[Dict[str, bool]] = None,
    ) -> None:
        self.fn = fn
        self.workers = workers  # idle greenlets the session lends; None: one greenlet per thread
        self.handoff = None
        self.model = model
        self.on_run_end = on_run_end
        self.wants = wants
        # What ``wants`` answered so far, by filename (the code filter's own table, when the
        # session passes it): primitives look a caller up here before calling ``wants``.
        self.wanted_files: Dict[str, bool] = {} if wanted_files is None else wanted_files
        self.strategy = strategy
        self.max_steps = max_steps
        self.counters = counters
        self.remaining = remaining_depth()  # this thread's recursion room (runtime/headroom.py)
        self.on_greenlet_start = on_greenlet_start
        self.recorder = recorder
        self.lock_hook = None
        self.threads: List[VThread] = []
        self.alive: List[VThread] = []
        self.now = 0.0
        self.steps = 0
        self.budget = 0  # picks the current grant still covers (fast path)
        self.rec_left = 0  # same, while recording: every point goes through the slow path
        self.granted = 0
        self.streak = 0
        self.fair_yields = 0
        self.starved = None
        self.fair_limit = FAIRNESS_STREAK
        self.probe = None
        self.forced_used = 0  # picks of a lone thread the strategy has not been told of yet
        self.every_pick = bool(getattr(strategy, "every_pick", False))
        # Solo: the current thread is the only one that can run, so its visible instructions
        # are not switch points (the back-end stops tracing them) until another thread can run.
        # Needs a back-end that can do that and a strategy that need not see those points.
        self.solo = False
        self.solo_ok = (on_solo_end is not None and not self.every_pick
                        and not getattr(strategy, "sees_lone_points", False))
        self.on_solo_end = on_solo_end or _none_counted  # returns the steps it counted
        self.on_interrupt = on_interrupt  # the back-end ends loop counts early
        self.solo_steps: Callable[[], int] = _none_counted  # loop iterations of the solo phase so far
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
        self.patient_waits = False  # a timed wait ran on a patient queue (``WaitQueue.patient``)
        self.teardown_left = TEARDOWN_PATIENCE
        self.abandoned: List[str] = []  # threads that refused to unwind
        #: Daemon threads still running when the body returned: ended with it, as at interpreter exit.
        self.ended_daemons: List[BlockedThread] = []
        self.expired = []  # timeouts a decision ran out early (``blocked.timed_out_early``)
        self.when_stuck = False  # set by the session: ``timeouts="when-stuck"``
        self.timers = False  # no wait with a timeout yet: no blocked thread has a deadline
        self.timers_held = False

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
        # The body is the calling thread: it sees the caller's context variables (a request id,
        # decimal's context), each execution in a copy of its own so that none leaks into the next.
        self.greenlet_for(main).gr_context = copy_context()
        nxt: Optional[VThread] = main
        try:
            while nxt is not None:
                self.current = nxt
                g = nxt.glet
                if g is None:
                    g = self.greenlet_for(nxt)
                nxt = g.switch()
                self.counters.restore(saved)
                if nxt is HANDOFF:  # a worker finished its thread and went back to the pool
                    nxt, self.handoff = self.handoff, None
        finally:
            self.counters.restore(saved)
            self.probe = None  # it holds a frame and its locals: the body's objects must not outlive the run
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
                # Outside any callback again (threads may have been unwound from inside callbacks).
                self.counters.tracing.value = 0
        if self.internal_error is not None:
            raise self.internal_error
        if self.outcome is None:
            self.outcome = Outcome("passed")
        self.outcome.steps = self.steps
        self.outcome.preemptions = self.preemptions
        self.outcome.runs = list(zip(self.runs_tid, self.runs_len))
        self.outcome.lone_points = not self.solo_ok
        self.outcome.virtual_time = self.now
        self.outcome.patient_waits = self.patient_waits
        self.outcome.fair_yields = self.fair_yields
        self.outcome.expired = tuple(self.expired)
        if self.outcome.kind == "step-limit" and self.outcome.tid is not None:
            # Its clock ran ahead of the execution's: it was polling the clock (sync/vtime.py).
            self.outcome.polling = self.threads[self.outcome.tid].clock > self.now
        return self.outcome

    def _main_body(self) -> None:
        self.fn()
        self._shutdown()
