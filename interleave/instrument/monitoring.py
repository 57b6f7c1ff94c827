"""Switch points from ``sys.monitoring`` (Python 3.12+): invisible locations are disabled."""

from __future__ import annotations

import sys
from _thread import get_ident
from types import CodeType
from typing import Any, Dict, FrozenSet, List, Set

from .backend import Backend
from .loops import Countdown
from .opcodes import visible_offsets
from .toolid import free_tool_id

# Visible instructions a lone thread runs before the code it is in stops being traced. Trading
# events re-instruments the code object, and putting them back when the phase ends forgets every
# location DISABLE turned off, which then fire once more each: for the few instructions of a
# body's set-up (build the state, start the threads) that costs more than it saves. A loop runs
# past this many at once, and only then pays for the trade.
SOLO_PATIENCE = 64


class MonitoringBackend(Backend):
    """INSTRUCTION events on instrumented code objects, enabled lazily at their first call.

    While a thread runs alone, a code object that reaches a visible instruction after the first
    ``SOLO_PATIENCE`` of the phase trades its INSTRUCTION events for JUMP events (backward jumps
    count as steps) until another thread can run: a lone thread then runs its loops at nearly
    full speed. A recording run keeps the INSTRUCTION events, to show what the thread did, and
    counts the same jumps.
    """

    name = "monitoring"
    supports_solo = True

    def install(self) -> None:
        mon = sys.monitoring
        self.tool = free_tool_id()
        mon.use_tool_id(self.tool, "interleave")
        self.enabled: List[CodeType] = []
        # Keyed by id: hashing a code object hashes its constants and names every time (up to a
        # microsecond), and this lookup runs at every visible instruction.
        visible: Dict[int, FrozenSet[int]] = {}
        by_content: Dict[CodeType, FrozenSet[int]] = {}
        DISABLE = mon.DISABLE
        wants = self.filter.wants
        model = self.model
        tool = self.tool
        set_local = mon.set_local_events
        INSTRUCTION = mon.events.INSTRUCTION
        enabled = self.enabled
        ctx = self.context
        JUMP = mon.events.JUMP
        solo_codes: Dict[int, CodeType] = {}  # id -> code: hashing a code object hashes its bytes
        self.solo_codes = solo_codes

        # Code objects compare equal by content: two ``exec`` of the same text give two equal
        # but distinct code objects, and each needs its own events. Identity decides (``enabled``
        # keeps them alive, so their ids stay theirs); equal ones share their visible offsets.
        started: Set[int] = set()

        def on_start(code: CodeType, offset: int) -> Any:
            if id(code) not in started and wants(code):
                started.add(id(code))
                if code not in by_content:
                    by_content[code] = visible_offsets(code, model)
                visible[id(code)] = by_content[code]
                set_local(tool, code, INSTRUCTION | JUMP)
                enabled.append(code)
            return DISABLE

        solo_seen = 0  # visible instructions of the current solo phase so far

        def on_instruction(code: CodeType, offset: int) -> Any:
            nonlocal solo_seen
            if offset not in visible[id(code)]:
                return DISABLE
            ex = ctx.active
            if ex is None or get_ident() != ex.os_ident:
                return None
            if ex.budget:
                ex.budget -= 1
                return None
            if ex.solo:
                if not solo_seen:
                    start_counting(ex)
                solo_seen += 1
                if ex.recorder is not None:
                    ex.solo_visible(code, offset)  # nothing to do for it unless it records
                elif solo_seen > SOLO_PATIENCE and id(code) not in solo_codes:
                    solo_codes[id(code)] = code
                    set_local(tool, code, JUMP)
                return None
            ex.point(code, offset)
            return None

        # Every backward jump of instrumented code is a loop iteration: ``on_jump`` counts it on
        # the countdown's cells (``left`` here stands for the countdown's own, see ``share``).
        countdown = Countdown(self)
        start_counting = countdown.start_counting
        expired = countdown.expired
        left = 0
        own_thread = [get_ident()]

        def on_jump(code: CodeType, offset: int, target: int) -> Any:
            nonlocal left
            if target >= offset:
                return DISABLE
            if get_ident() == own_thread[0]:
                left -= 1
                if not left:
                    expired(code, offset)
            return None

        on_jump = countdown.share(on_jump)

        def begin() -> None:
            nonlocal solo_seen
            countdown.begin()
            own_thread[0] = get_ident()
            solo_seen = 0

        def solo_end() -> int:
            nonlocal solo_seen
            if not solo_seen:
                # No visible instruction in this phase: the countdown never started counting
                # and no code stopped being traced (a phase ended by a wake-up or a start).
                return 0
            solo_seen = 0
            for code in solo_codes.values():
                set_local(tool, code, INSTRUCTION | JUMP)
            solo_codes.clear()
            return countdown.end_solo()

        # Locations disabled by an earlier run (possibly under another model) must fire again.
        mon.restart_events()
        mon.register_callback(tool, mon.events.PY_START, on_start)
        mon.register_callback(tool, INSTRUCTION, on_instruction)
        mon.register_callback(tool, JUMP, on_jump)
        self.solo_end = solo_end  # type: ignore[method-assign]
        self.begin_execution = begin  # type: ignore[method-assign]
        self.solo_steps = countdown.solo_steps  # type: ignore[method-assign]
        self.hurry = countdown.hurry  # type: ignore[method-assign]
        mon.set_events(tool, mon.events.PY_START)

    def uninstall(self) -> None:
        mon = sys.monitoring
        tool = self.tool
        mon.set_events(tool, 0)
        for code in self.enabled:
            mon.set_local_events(tool, code, 0)
        self.solo_codes.clear()
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.register_callback(tool, mon.events.INSTRUCTION, None)
        mon.register_callback(tool, mon.events.JUMP, None)
        mon.free_tool_id(tool)
        self.enabled = []

    def saw_user_code(self) -> bool:
        return bool(self.enabled) and sys.monitoring.get_tool(self.tool) == "interleave"
