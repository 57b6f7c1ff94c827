"""Sets up the controlled world once per exploration and runs executions in it."""

from __future__ import annotations

import _random
import _thread
import gc
import random
import signal
import threading
import weakref
from time import monotonic as _monotonic
from typing import Any, Callable, List, Optional, Sequence

from .errors import InstrumentationError, NestedExploreError
from .instrument.backend import Backend
from .instrument.choose import make_backend
from .instrument.filter import CodeFilter
from .instrument.patching import Patcher
from .patches.adopter import adopt_prerun_primitives
from .patches.bound import mark_run_over
from .patches.outside_waiters import OutsideWaiter, outside_waiters
from .patches.process_settings import ProcessSettings
from .patches.stdlib import ExecutorModuleState, install_runtime_patches, reset_thread_names
from .runtime import context
from .runtime.collector import collect_when_due
from .runtime.execution import IDENT_BASE, Execution
from .runtime.outcome import Outcome
from .runtime.tstate import TracingCounters, verify_offsets
from .runtime.view import ExecutionView
from .runtime.watchdog import STALL_SECONDS, Watchdog
from .versions import CURRENT

_open = False


class Session:
    """Patches, instrumentation and restoration around a series of executions."""

    def __init__(self, fn: Callable[[], Any], *, model: str, max_steps: int,
                 instrument: Sequence[str] = (), exclude: Sequence[str] = (),
                 backend: Optional[str] = "auto", stall_timeout: Optional[float] = None,
                 timeouts: str = "anytime") -> None:
        self.fn = fn
        self.when_stuck = timeouts == "when-stuck"
        self.stall_timeout = STALL_SECONDS if stall_timeout is None else stall_timeout
        self.interrupted_at: Optional[float] = None  # when Ctrl-C came, if it did
        self.model = model
        self.max_steps = max_steps
        self.filter = CodeFilter(instrument, exclude)
        self.instrument, self.exclude = list(instrument), list(exclude)
        self.backend = make_backend(backend, self.filter, model, context)
        self.backend.loop_budget = max_steps
        # Each new greenlet resets the tracing counter itself (``Worker.run``); the back-end's
        # hook is called too only where it does more than that.
        self.greenlet_hook = (None if type(self.backend).on_greenlet_start is Backend.on_greenlet_start
                              else self.backend.on_greenlet_start)
        self.adopted = 0
        self.user_code_seen = False
        #: Daemon threads the first passing execution that left any ended with the body (``ended_threads_note``).
        self.ended_daemons: List[Any] = []
        self.runs = 0  # executions run so far, replays included
        self.ended_daemons_run = 0  # the one that ended ``ended_daemons`` (1-based; 0: none)
        self.ended_daemon_objects: List[Any] = []  # weak references to their Thread objects (or None)

    def __enter__(self) -> Session:
        global _open
        if _open or context.active is not None:
            raise NestedExploreError(
                "interleave.explore/replay was called inside another exploration; "
                "nested explorations are not supported: call it from the test itself, not from the body "
                "(a test marked @pytest.mark.interleave is itself the body: drop the marker, or explore "
                "through the interleave fixture)"
            )
        # Before anything else changes them, what the program could change for the process.
        self.process = ProcessSettings()
        # First of all: from here on a Ctrl-C cannot land between a change and its undo.
        self._take_sigint()
        self.backend_installed = False
        try:
            verify_offsets()
            self.counters = TracingCounters()
            # Garbage from one execution must not be collected in the middle of the next: its
            # finalizers and weakref callbacks (a ThreadPoolExecutor's wakes its workers) would
            # run at a moment no schedule controls. Collect between executions instead.
            gc.disable()
            self.patcher = Patcher()
            # Greenlets the executions' bodies reuse (None: a new one each time, as cheap).
            self.workers: Optional[list] = [] if CURRENT.greenlet_start_allocates else None
            _open = True
            self.executor_state = ExecutorModuleState()
            install_runtime_patches(self.patcher)
            self.adopter = adopt_prerun_primitives(self.patcher, self.filter, self.fn)
            self.adopted = self.adopter.adopted
            self.backend.install()
            self.backend_installed = True
            watchdog = Watchdog(_thread.get_ident(), lambda: self.adopter.unadoptable,
                                self.stall_timeout, lambda: self.interrupted_at)
            self.watchdog: Optional[Watchdog] = watchdog
            watchdog.start()
        except BaseException:
            self._close()
            raise
        return self

    def _take_sigint(self) -> None:
        """Turn Ctrl-C into a request the run honours at its next switch point (main thread only).

        Python raises ``KeyboardInterrupt`` at whatever instruction runs when the signal comes:
        in the scheduler, in threading's bookkeeping of a virtual thread, in the middle of a
        restore. Deferred, it ends the execution cleanly and leaves ``explore`` as itself.
        """
        self.old_sigint: Any = None
        if (threading_main_ident() == _thread.get_ident()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self.old_sigint = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.interrupted_at is None:
            self.interrupted_at = _monotonic()
        ex = context.active
        if ex is not None:
            ex.interrupt(KeyboardInterrupt())

    def set_deadline(self, seconds: Optional[float]) -> None:
        """Stop the execution that is running ``seconds`` from now (:class:`TimeUp`); None: no deadline."""
        watchdog = self.watchdog
        if watchdog is not None:
            watchdog.deadline = None if seconds is None else _monotonic() + seconds

    def replay_arguments(self) -> str:
        """What a printed ``interleave.replay(...)`` call must repeat: ``, instrument=[...]`` and ``exclude``.

        They change which code has switch points: replayed without them, the token diverges.
        """
        return "".join(f", {name}={value!r}" for name, value in
                       (("instrument", self.instrument), ("exclude", self.exclude)) if value)

    def outside_waiters(self) -> List[OutsideWaiter]:
        """Threads started before the run, outside it, that wait in an object it made cooperative."""
        return outside_waiters(self.adopter.start, self.adopter.caller_ident)

    def check_interrupt(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C came (between executions, shrinking, reporting)."""
        if self.interrupted_at is not None:
            raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        self._close()
        if self.interrupted_at is not None and not (exc and isinstance(exc[1], KeyboardInterrupt)):
            raise KeyboardInterrupt

    def _close(self) -> None:
        """Undo whatever ``__enter__`` did, in reverse, whatever happens on the way."""
        global _open
        context.active = None
        try:
            watchdog = getattr(self, "watchdog", None)
            if watchdog is not None:
                watchdog.stop()
                # It refers back to this session: without the cycle, the session and the patcher's
                # records (which hold the real clocks and lock constructors) go as soon as explore
                # returns, not at some later collection that the next exploration may precede.
                self.watchdog = None
            try:
                if self.backend_installed:
                    self.backend_installed = False
                    self.backend.uninstall()
                # Dropping the idle workers ends them (each unwinds its own loop, nothing else).
                workers = getattr(self, "workers", None)
                if workers:
                    workers.clear()
            finally:
                try:
                    if hasattr(self, "patcher"):
                        self.patcher.restore()
                    if hasattr(self, "executor_state"):
                        self.executor_state.close()
                finally:
                    try:
                        # SIGINT last of all, below; the watchdog put its own signal back already.
                        if hasattr(self, "process"):
                            self.process.put_back(skip_signals=(signal.SIGINT,))
                    finally:
                        _open = False
                        mark_run_over()
        finally:
            # Ctrl-C stays deferred until everything is back; then it is what leaves explore.
            if self.old_sigint is not None:
                signal.signal(signal.SIGINT, self.old_sigint)
                self.old_sigint = None

    def kept_daemons(self) -> List[Any]:
        """The daemon threads an execution before the latest one ended, whose Thread the program still holds.

        The program holds on to such a thread when it started it once and keeps it (a worker
        started on first use): the executions after that one run without it.
        """
        if not 0 < self.ended_daemons_run < self.runs:
            return []
        gc.collect()  # only for a failure's report: a thread dropped in a cycle is not kept
        return [b for b, ref in zip(self.ended_daemons, self.ended_daemon_objects) if ref is not None and ref()]

    def run_once(self, strategy: Any, random_seed: int, recorder: Any = None) -> Outcome:
        """One execution under ``strategy``; ``random`` is seeded with ``random_seed``."""
        self.check_interrupt()
        if not strategy.new_execution():
            raise RuntimeError(f"strategy {strategy.describe()} has no execution left to run")
        _seed_random(random_seed)
        self.runs += 1
        reset_thread_names()
        self.backend.begin_execution()
        ex = Execution(self.fn, strategy, self.max_steps, self.counters,
                       self.greenlet_hook, recorder, self.filter.wants,
                       self.backend.end_execution, self.model,
                       self.backend.solo_end if self.backend.supports_solo else None,
                       self.backend.hurry, self.workers, self.filter.files)
        ex.on_resume = self.backend.on_resume
        ex.when_stuck = self.when_stuck
        ex.solo_steps = self.backend.solo_steps
        bind = getattr(strategy, "bind", None)
        if bind is not None and not getattr(bind, "ignores_view", False):
            # A strategy that keeps the base class's ``bind`` looks at no view: none is made.
            bind(ExecutionView(ex))
        self.executor_state.begin_execution(ex.atexits)
        self.adopter.start.reset_between_executions()
        context.active = ex
        if self.interrupted_at is not None:  # Ctrl-C between the check above and now
            ex.interrupt(KeyboardInterrupt())
        try:
            outcome = ex.run()
            if ex.ended_daemons and not self.ended_daemons:
                self.ended_daemons = ex.ended_daemons
                self.ended_daemons_run = self.runs
                self.ended_daemon_objects = [_weak(ex.threads[b.tid].thread) for b in ex.ended_daemons]
        finally:
            context.active = None
            _forget_virtual_threads(len(ex.threads) > 1)
            self.executor_state.end_execution()
            self.process.between_executions()
            collect_when_due()  # outside any execution (see ``__enter__``)
        if not self.backend.still_ours():
            # Every later execution would run untraced, without a switch point: passes that
            # tested nothing. Nothing found so far counts either.
            message = getattr(self.backend, "displaced_message", lambda: None)()
            if message is not None:
                raise InstrumentationError(message)
            where = getattr(self.backend, "displaced_at", None)
            if where is not None:
                raise InstrumentationError(
                    f"code under test called sys.settrace at {where} (a debugger or coverage tool "
                    "started inside the body; threading.settrace's hook is set that way in every "
                    "thread the run starts), but the settrace back-end's own trace function makes "
                    "the switch points, so this exploration has no verdict. "
                    "Keep tracers out of the body, or use backend=\"monitoring\" (Python 3.12+), "
                    "which leaves sys.settrace to the program.")
            raise InstrumentationError(
                "interleave's trace function was removed during an execution, so the executions "
                "after it could not be controlled and this exploration has no verdict. Either code "
                "under test called sys.settrace (a debugger, a coverage tool started inside the "
                "body), or a thread reached the recursion limit while traced: CPython then drops "
                "the trace function that could not be called. Keep tracers out of the body, or "
                "raise sys.setrecursionlimit (Python 3.12+ with the default monitoring back-end "
                "gives switch points near the limit room of their own)."
            )
        if not self.user_code_seen:
            if not self.backend.saw_user_code():
                raise InstrumentationError(
                    "interleave reached no switch point in the code under test: every frame was "
                    "excluded (the body lives in the standard library or site-packages?) or tracing "
                    "was taken over by another tool. Pass instrument=['your_package'] or check "
                    "that no debugger or coverage tracer replaces interleave's."
                )
            self.user_code_seen = True
        return outcome


_c_seed = _random.Random.seed


def _seed_random(seed: int) -> None:
    """``random.seed(seed)``, without the Python-level wrapper for the usual case.

    For an int, ``random.Random.seed`` seeds the C generator and clears ``gauss_next``; doing
    both here directly saves about a third of its cost, at every execution. Anything else (a
    ``random.seed`` replaced by the program, a generator of another class) goes the long way.
    """
    seed_fn = random.seed
    inst = getattr(seed_fn, "__self__", None)
    if type(inst) is random.Random and type(seed) is int:
        _c_seed(inst, seed)
        inst.gauss_next = None  # type: ignore[attr-defined]
    else:
        seed_fn(seed)


def _weak(thread: Any) -> Any:
    """A weak reference to a Thread object, or None (a raw ``_thread`` thread has none)."""
    try:
        return weakref.ref(thread) if thread is not None else None
    except TypeError:
        return None


def threading_main_ident() -> Optional[int]:
    """The OS ident of the main thread (signals are delivered there)."""
    return threading.main_thread().ident


def _forget_virtual_threads(started: bool) -> None:
    """Threads torn down mid-run never unregister themselves; drop them from threading."""
    if not started and not threading._limbo:  # type: ignore[attr-defined]
        # Only a virtual thread has a virtual ident, and a thread object whose start failed
        # half-way stays in _limbo: with neither there is nothing to drop.
        return
    for registry in (threading._active, threading._limbo):  # type: ignore[attr-defined]
        for key, th in list(registry.items()):
            ident = key if isinstance(key, int) else getattr(th, "_ident", None)
            if isinstance(ident, int) and IDENT_BASE <= ident < IDENT_BASE + 0x10000:
                registry.pop(key, None)
            elif key is th and getattr(th, "_ident", 0) is None:
                registry.pop(key, None)
