"""Calls of the program on interleave's own ``sys.monitoring`` tool id: refused, and noted.

The ``monitoring`` back-end makes its switch points with one tool id. A body that turns every
tool's events off (a profiler or coverage reset started inside it), sets a code object's local
events, replaces a callback or frees the id would take the switch points away: the executions
after it run without them, and an exhaustive search or DPOR then "proves" a program that races.
As the ``settrace`` back-end refuses ``sys.settrace``, these calls on the harness's id are not
applied; the first is noted, and the exploration ends in ``InstrumentationError`` naming it.
Calls on any other tool id go through.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Optional

from .filter import HARNESS_DIR

_GUARDED = ("set_events", "set_local_events", "register_callback", "free_tool_id")


class ToolGuard:
    """Stands between the program and the ``sys.monitoring`` calls that act on one tool id."""

    def __init__(self, tool: int) -> None:
        self.tool = tool
        self.refused: Optional[str] = None  # the first refused call: "name at file:line in function"
        self.real: Dict[str, Callable[..., Any]] = {}
        self.guards: Dict[str, Callable[..., Any]] = {}

    def install(self) -> None:
        """Put the guards in place of ``sys.monitoring``'s functions."""
        mon = sys.monitoring
        for name in _GUARDED:
            real = getattr(mon, name)
            self.real[name] = real
            self.guards[name] = guard = self._guard(name, real)
            setattr(mon, name, guard)

    def uninstall(self) -> None:
        """Give ``sys.monitoring`` its functions back (those nobody replaced after us)."""
        mon = sys.monitoring
        for name, real in self.real.items():
            if getattr(mon, name, None) is self.guards[name]:
                setattr(mon, name, real)
        self.real.clear()
        self.guards.clear()

    def _guard(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        tool = self.tool

        def guarded(tool_id: int, *args: Any) -> Any:
            if tool_id != tool:
                return real(tool_id, *args)
            caller = sys._getframe(1)
            if caller.f_code.co_filename.startswith(HARNESS_DIR):
                return real(tool_id, *args)
            if self.refused is None:
                code = caller.f_code
                self.refused = f"sys.monitoring.{name}({tool_id}, ...) at {code.co_filename}:{caller.f_lineno} " \
                               f"in {code.co_name}"
            return None

        guarded.__name__ = guarded.__qualname__ = name
        guarded.__doc__ = real.__doc__
        return guarded
