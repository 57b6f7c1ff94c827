"""The interface both tracing back-ends implement, and the choice between them."""

from __future__ import annotations

from typing import Callable, Optional

from ..errors import OptionError
from ..versions import CURRENT, python
from .filter import CodeFilter

BACKENDS = ("auto", "monitoring", "settrace")


class Backend:
    """Calls ``execution.point`` before visible instructions of instrumented code."""

    name = "?"
    #: Whether it can stop tracing a thread that runs alone (see ``Execution.solo``).
    supports_solo = False
    #: Loop iterations (backward jumps) an execution may run outside a solo phase.
    loop_budget = 100_000

    def __init__(self, code_filter: CodeFilter, model: str) -> None:
        self.filter = code_filter
        self.model = model

    def install(self) -> None:
        """Start delivering switch points (once per explore)."""
        raise NotImplementedError

    def uninstall(self) -> None:
        """Stop and leave the interpreter exactly as install found it."""
        raise NotImplementedError

    def begin_execution(self) -> None:
        """Called before each execution."""

    def on_greenlet_start(self) -> None:
        """Called first thing in every new greenlet."""

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


def make_backend(name: Optional[str], code_filter: CodeFilter, model: str) -> Backend:
    """The back-end asked for: ``sys.monitoring`` on 3.12+, ``sys.settrace`` below."""
    if name in (None, "auto"):
        name = "monitoring" if CURRENT.monitoring else "settrace"
    if name == "monitoring":
        if not CURRENT.monitoring:
            raise OptionError(
                f"backend='monitoring' needs Python 3.12+ (this is {python()}); "
                "use backend='settrace' or 'auto'"
            )
        from .monitoring import MonitoringBackend

        return MonitoringBackend(code_filter, model)
    if name == "settrace":
        from .settrace import SettraceBackend

        return SettraceBackend(code_filter, model)
    raise OptionError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}")
