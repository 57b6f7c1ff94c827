"""A ``sys.monitoring`` tool id nobody else holds (the back-end's and the start-up probe's)."""

from __future__ import annotations

import sys

from ..errors import UnsupportedInterpreterError


def free_tool_id() -> int:
    """A sys.monitoring tool id nobody else holds."""
    mon = sys.monitoring
    # 0-2 and 5 are conventionally the debugger's, coverage's, the profiler's and the optimizer's.
    for tool in (3, 4, 5, 2, 1, 0):
        if mon.get_tool(tool) is None:
            return tool
    raise UnsupportedInterpreterError("all six sys.monitoring tool ids are in use; free one first")
