"""The ``sys.monitoring`` tools of the process as the run found them: what the body claims is given back.

A body may claim a tool id (a coverage or profiling library started inside it), set its events
and callbacks, or change those of a tool that was there before. Left as they are, its callbacks
go on firing on every line of the process after the run, and the next execution's claim of the
same id fails with "tool N is already in use": a failure that is the run's leftover, not the
program's. interleave's own tools (the back-end's, the start-up probe's) are not the body's.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional, Tuple

from ..versions import CURRENT

_OURS = frozenset({"interleave", "interleave-probe"})
_IDS = range(6)  # sys.monitoring's tool ids


_EVENTS: Tuple[int, ...] = ()


def _events() -> Tuple[int, ...]:
    """Every event a callback can be registered for (one bit each), found once."""
    global _EVENTS
    if not _EVENTS:
        names = sys.monitoring.events
        _EVENTS = tuple(v for k, v in sorted(vars(names).items())
                        if k.isupper() and isinstance(v, int) and v and not v & (v - 1))
    return _EVENTS


def _in_use() -> Tuple[Optional[str], ...]:
    """The name each tool id is in use under (None: free), interleave's own included."""
    return tuple(map(sys.monitoring.get_tool, _IDS))


def _names(in_use: Tuple[Optional[str], ...]) -> Tuple[Optional[str], ...]:
    """``in_use`` without interleave's own tools: the ids that are the program's or the caller's."""
    return tuple(None if name in _OURS else name for name in in_use)


def _callbacks(tool: int, events: Tuple[int, ...]) -> Dict[int, Any]:
    """A tool's callbacks: sys.monitoring only tells them by handing them back on a change."""
    register = sys.monitoring.register_callback
    found = {}
    for event in events:
        cb = register(tool, event, None)
        register(tool, event, cb)
        found[event] = cb
    return found


class MonitoringTools:
    """The tool ids in use, their events and callbacks, captured before the run (nothing below 3.12)."""

    def __init__(self) -> None:
        self.names: Optional[Tuple[Optional[str], ...]] = None
        if not CURRENT.monitoring:
            return
        mon = sys.monitoring
        self.events = _events()
        self.names = _names(_in_use())
        self.global_events = {t: mon.get_events(t) for t, name in zip(_IDS, self.names) if name is not None}
        self.callbacks = {t: _callbacks(t, self.events) for t in self.global_events}
        self.settled: Tuple[Optional[str], ...] = ()  # the ids in use after the last look, ours included

    def between_executions(self) -> None:
        """Give back the tool ids an execution claimed: the next one starts as the first did."""
        if self.names is None:
            return
        in_use = _in_use()
        if in_use != self.settled:  # at every execution: one look when nothing changed
            if _names(in_use) != self.names:
                self.put_back()
                in_use = _in_use()
            self.settled = in_use

    def put_back(self) -> None:
        """Free what the body claimed; the tools that were there get their ids, events and callbacks back."""
        if self.names is None:
            return
        mon = sys.monitoring
        now = _names(_in_use())
        for tool in _IDS:
            if now[tool] is not None and now[tool] != self.names[tool]:
                mon.set_events(tool, 0)
                for event in self.events:
                    mon.register_callback(tool, event, None)
                mon.free_tool_id(tool)
        for tool, events in self.global_events.items():
            if mon.get_tool(tool) is None:
                mon.use_tool_id(tool, self.names[tool] or "")
            if mon.get_events(tool) != events:
                mon.set_events(tool, events)
            for event, cb in self.callbacks[tool].items():
                mon.register_callback(tool, event, cb)
