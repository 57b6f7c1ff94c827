"""Switch points from ``sys.monitoring`` (Python 3.12+): invisible locations are disabled."""

from __future__ import annotations

import sys
from _thread import get_ident
from types import CodeType
from typing import Any, Dict, FrozenSet, List

from ..runtime import context
from ..runtime.tstate import free_tool_id
from .backend import Backend
from .opcodes import visible_offsets


class MonitoringBackend(Backend):
    """INSTRUCTION events on instrumented code objects, enabled lazily at their first call."""

    name = "monitoring"

    def install(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        self.tool = free_tool_id()
        mon.use_tool_id(self.tool, "interleave")
        self.enabled: List[CodeType] = []
        visible: Dict[CodeType, FrozenSet[int]] = {}
        DISABLE = mon.DISABLE
        wants = self.filter.wants
        model = self.model
        tool = self.tool
        set_local = mon.set_local_events
        INSTRUCTION = mon.events.INSTRUCTION
        enabled = self.enabled
        ctx = context

        def on_start(code: CodeType, offset: int) -> Any:
            if code not in visible and wants(code):
                visible[code] = visible_offsets(code, model)
                set_local(tool, code, INSTRUCTION)
                enabled.append(code)
            return DISABLE

        def on_instruction(code: CodeType, offset: int) -> Any:
            if offset not in visible[code]:
                return DISABLE
            ex = ctx.active
            if ex is None or get_ident() != ex.os_ident:
                return None
            if ex.budget:
                ex.budget -= 1
                return None
            ex.point(code, offset)
            return None

        # Locations disabled by an earlier run (possibly under another model) must fire again.
        mon.restart_events()
        mon.register_callback(tool, mon.events.PY_START, on_start)
        mon.register_callback(tool, INSTRUCTION, on_instruction)
        mon.set_events(tool, mon.events.PY_START)

    def uninstall(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        tool = self.tool
        mon.set_events(tool, 0)
        for code in self.enabled:
            mon.set_local_events(tool, code, 0)
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.register_callback(tool, mon.events.INSTRUCTION, None)
        mon.free_tool_id(tool)
        self.enabled = []

    def saw_user_code(self) -> bool:
        return bool(self.enabled) and sys.monitoring.get_tool(self.tool) == "interleave"  # type: ignore[attr-defined]

    def on_greenlet_start(self) -> None:
        ex = context.active
        if ex is not None:
            ex.counters.reset_for_new_greenlet()
