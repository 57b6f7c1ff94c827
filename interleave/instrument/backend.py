"""The interface both tracing back-ends implement (``choose.make_backend`` picks one)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from .filter import CodeFilter

BACKENDS = ("auto", "monitoring", "settrace")


class Backend:
    """Calls ``execution.point`` before visible instructions of instrumented code."""

    name = "?"
    #: Whether it can stop tracing a thread that runs alone (see ``Execution.solo``).
    supports_solo = False
    #: Loop iterations (backward jumps) an execution may run outside a solo phase.
    loop_budget = 100_000

    def __init__(self, code_filter: CodeFilter, model: str, context: Any) -> None:
        self.filter = code_filter
        self.model = model
        # The runtime's ``context``: its ``active`` is the execution running now, or None. It is
        # handed in, not imported, so that instrumentation stays below the runtime.
        self.context = context

    def install(self) -> None:
        """Start delivering switch points (once per explore)."""
        raise NotImplementedError

    def uninstall(self) -> None:
        """Stop and leave the interpreter exactly as install found it."""
        raise NotImplementedError

    def begin_execution(self) -> None:
        """Called before each execution."""

    def on_greenlet_start(self) -> None:
        """Called first thing in every new greenlet: its switch-point counters start afresh."""
        ex = self.context.active
        if ex is not None:
            ex.counters.reset_for_new_greenlet()

    def end_execution(self) -> None:
        """Called when an execution's threads have stopped, before leftovers are unwound."""

    def solo_end(self) -> int:
        """Trace again what was left untraced while a thread ran alone; return its loop count."""
        return 0

    #: Called when a thread resumes outside any callback (None: nothing to do on this back-end).
    on_resume: Optional[Callable[[], None]] = None

    def solo_steps(self) -> int:
        """Loop iterations counted in the current solo phase so far."""
        return 0

    def hurry(self) -> None:
        """Make the next loop iteration of instrumented code check on the execution (Ctrl-C)."""

    def saw_user_code(self) -> bool:
        """Whether any instrumented code has run and tracing is still ours."""
        raise NotImplementedError

    def still_ours(self) -> bool:
        """Whether the hooks are still installed as the back-end installed them (checked after each execution)."""
        return True
