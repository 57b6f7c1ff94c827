"""A virtual thread's life: start (and the prelude up to its first switch point), exit, teardown."""

from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional

from greenlet import GreenletExit, greenlet

from ..errors import InconclusiveError
from ..instrument.opcodes import visible_offsets
from ..versions import CURRENT
from .blocked import left_running
from .operation import Op, OpKind
from .outcome import Outcome
from .scheduling import TEARDOWN_PATIENCE, Scheduling, _Teardown
from .vthread import DONE, IDENT_BASE, VThread, WaitQueue

# Idle workers a session keeps at most (one per thread an execution runs at once, per depth at
# which threads start); the bound guards against a program that starts threads at ever new depths.
POOL_MAX = 64
# What a worker hands the hub instead of its result (left in ``Execution.handoff``): a suspended
# worker must hold no reference to the execution it served, or that execution's objects would be
# freed, and their finalizers run, in the middle of the next one.
HANDOFF = object()
_new_tuple = tuple.__new__
_START = OpKind.START


class Worker(greenlet):
    """A greenlet that runs virtual threads one after another, one per first switch.

    Starting a new greenlet costs a fresh frame-stack chunk from the operating system on 3.11+
    (several microseconds, a large part of a small execution); an idle worker already has one.
    Each thread still starts as on a greenlet of its own: no context variables, no
    thread-locals, the same frames below its function. A thread that does not end normally
    (unwound at teardown, abandoned) takes its worker with it.

    A greenlet starts at the recursion depth of whoever first switches into it, and keeps it:
    a worker is reused only for a thread whose greenlet would be first entered at the same
    depth (``depth``, read from the thread state), so every thread has exactly the room a new
    greenlet would give it. Reused regardless of depth, a worker first entered deep inside a
    thread would start later threads deeper and deeper (RecursionError after a few executions).
    """

    def __init__(self, pool: Optional[List[Worker]], parent: Optional[greenlet], depth: Any = None) -> None:
        super().__init__(parent=parent)
        self.pool = pool  # None: ends with its thread
        self.depth = depth  # the recursion state it was first entered at (None: unknown)
        self.job: Any = None

    def run(self) -> Any:  # the frame below every thread's function, like a greenlet's entry
        while True:
            ex, vt = self.job
            self.job = None
            func, args, kw = vt.start
            vt.start = None
            # A fresh greenlet starts outside any callback (``reset_for_new_greenlet`` written
            # out: once per thread); a back-end with more to do there gave a hook.
            ex.counters.tracing.value = 0
            hook = ex.on_greenlet_start
            if hook is not None:
                hook()
            if vt.tid == 0:  # the body is the calling thread: it keeps that thread's locals
                nxt = ex._run_thread(vt, func, args, kw)
            else:
                # A new virtual thread starts with no thread-locals (CPython creates them on
                # demand); ``release_locals`` drops the ones it made.
                for s in ex.counters.slots:
                    s.value = None
                try:
                    nxt = ex._run_thread(vt, func, args, kw)
                finally:
                    ex.counters.release_locals()
            vt.glet = None  # finished: inactive, as a dead greenlet reads
            pool = self.pool
            if pool is None or len(pool) >= POOL_MAX:
                return nxt
            g = nxt.glet if nxt is not None else None
            if g is None:  # the end, or a thread that has not started: the hub decides
                ex.handoff = nxt
            else:
                # Straight on to the next thread: one switch instead of two through the hub.
                # While idle, this worker then holds that greenlet, never the execution: a
                # pooled worker outlives the execution and a finished one holds no frames.
                ex.current = nxt
            del ex, vt, func, args, kw, nxt
            self.gr_context = None  # the next thread starts with no context variables
            pool.append(self)
            if g is None:
                self.parent.switch(HANDOFF)
            else:
                g.switch()
                del g


class ThreadLife(Scheduling):
    """Starting, ending and unwinding the virtual threads of one execution."""

    __slots__ = ("on_greenlet_start", "atexits", "workers", "handoff")

    on_greenlet_start: Optional[Callable[[], None]]
    atexits: List[Callable[[], Any]]
    workers: Optional[List[Worker]]
    handoff: Optional[VThread]

    def spawn(self, func: Callable[..., Any], args: tuple = (), kwargs: Optional[dict] = None,
              name: Optional[str] = None, daemon: bool = False) -> VThread:
        """Create a virtual thread that runs ``func``; it starts when the strategy picks it."""
        tid = len(self.threads)
        vt = VThread(tid, name or f"Thread-{tid}", daemon, IDENT_BASE + tid)
        # Its greenlet is taken when it first runs: until then ``glet`` is None, as a greenlet
        # that has not started reads as inactive with no frame.
        vt.start = (func, args, kwargs or {})
        self.threads.append(vt)
        self.alive.append(vt)
        return vt

    def needs_start_point(self, fn: Any) -> bool:
        """Whether a thread running ``fn`` would reach no switch point of its own at first."""
        code = getattr(fn, "__code__", None)  # a function: no failed ``__func__`` lookup first
        if code is None:
            code = getattr(getattr(fn, "__func__", None), "__code__", None)
            if code is None:
                return True
        wanted = self.wanted_files.get(code.co_filename)
        if wanted is None:
            wanted = self.wants(code)
        if not wanted:
            return True
        return not visible_offsets(code, self.model)

    def thread_point(self, function: Any) -> None:
        """A switch point in a thread's own life, before it runs ``function``, which offers none."""
        if self.tearing_down:
            return
        if self.budget:
            self.budget -= 1
            return
        self.point(None, 0, _new_tuple(Op, (_START, function, False, None)))  # ``Op(...)`` without its __new__

    def greenlet_for(self, vt: VThread) -> greenlet:
        """The greenlet a thread's first switch starts: an idle worker first entered at this depth."""
        pool = self.workers
        if pool is None:
            return self._new_worker(vt, None, None)
        read = self.counters.depth
        if read is not None:
            # Read one frame below the switch that enters the greenlet, wherever that is.
            depth = read()
        elif vt.tid:
            return self._new_worker(vt, None, None)  # depth unknown: a greenlet of its own
        else:
            depth = None  # the body: the scheduler always starts it from the same place
        hub = self.hub
        for i in range(len(pool) - 1, -1, -1):
            w = pool[i]
            if w.parent is not hub:
                del pool[i]  # lent by an earlier caller of the session: dropping it ends it
            elif w.depth == depth:
                del pool[i]
                w.job = (self, vt)
                vt.glet = w
                return w
        return self._new_worker(vt, pool, depth)

    def _new_worker(self, vt: VThread, pool: Optional[List[Worker]], depth: Any) -> Worker:
        w = Worker(pool, self.hub, depth)
        w.job = (self, vt)
        vt.glet = w
        return w

    def _run_thread(self, vt: VThread, func: Callable[..., Any], args: tuple, kw: dict) -> Optional[VThread]:
        try:
            func(*args, **kw)
        except GreenletExit:
            raise
        except SystemExit as exc:
            # threading ignores a thread's sys.exit(); the body's is a failure, as pytest counts
            # a test that exits (before, every execution of such a body passed).
            if vt.tid == 0 and self.outcome is None and not self.tearing_down:
                self.outcome = Outcome("exception", exception=exc, thread=vt.name, tid=vt.tid)
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
        self.counters.switch_to(self, vt)
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

    def thread_failed(self, vt: VThread, exc: BaseException) -> None:
        """Record an uncaught exception in a thread (the first failure wins).

        What is not an ``Exception`` (Ctrl-C, a test runner's timeout or skip) and interleave's
        own errors (an inconclusive run) are not findings about the code under test: they stop
        the exploration and ``explore`` raises them once everything is restored. The exception
        is a ``KeyboardInterrupt`` that a thread raised by itself, or a ``GeneratorExit``: a finding,
        like any other.
        """
        # A KeyboardInterrupt that no Ctrl-C sent (the harness records one before raising it) was
        # raised by the program: in a thread other than the body, threading only prints it.
        own = isinstance(exc, KeyboardInterrupt) and vt.tid != 0 and self.internal_error is None
        # A GeneratorExit that escapes a thread is the program's (a generator closed at the wrong
        # moment), never the harness's: a finding, as any exception.
        own = own or isinstance(exc, GeneratorExit)
        if not own and (isinstance(exc, InconclusiveError) or not isinstance(exc, Exception)):
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
        if vt.exit_queue is not None:
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
        q = vt.exit_queue
        if q is None:
            q = vt.exit_queue = WaitQueue(vt, "exit")
        return self.park(q, timeout)

    def _shutdown(self) -> None:
        """What the interpreter does at exit: threading atexit hooks, then join non-daemons."""
        self.shutting_down = True
        while self.atexits:
            self.atexits.pop()()
        for vt in self.threads[1:]:  # a copy: a thread joined here may start others
            if not vt.daemon and vt.state != DONE:
                self.join_thread(vt)

    def _teardown(self) -> None:
        """Unwind every thread still alive, so that its ``finally`` blocks run under control."""
        self.tearing_down = True
        self.budget = 1 << 60
        if not self.alive:
            return  # every thread has ended: nothing to unwind (the usual case)
        if self.shutting_down and self.outcome is None:
            # A passing end: whatever those threads served is left without them after the run.
            # Waiting, or ready to run (woken by a stop the body did not join): cut off either way.
            self.ended_daemons = [left_running(self, vt) for vt in self.alive if vt.tid and vt.daemon]
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
