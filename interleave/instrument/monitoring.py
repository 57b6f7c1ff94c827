"""Switch points from ``sys.monitoring`` (Python 3.12+): invisible locations are disabled."""

from __future__ import annotations

import sys
from _thread import get_ident
from types import CodeType
from typing import Any, Dict, FrozenSet, List, Optional, Set

from .backend import Backend
from .loops import Countdown
from .monitoring_guard import ToolGuard
from .opcodes import visible_offsets
from .toolid import free_tool_id

# Loop iterations a lone thread runs with its INSTRUCTION callback taken away before the code
# looping then stops being instrumented for INSTRUCTION events altogether: the interpreter still
# does some work at every instrumented instruction even with no callback (about 10 ns), which a
# long loop feels, while re-instrumenting costs a few microseconds and re-arms DISABLEd
# locations. Only the first code object that loops that long in a phase is traded: the check
# then leaves the loop callback, which runs at every iteration.
SOLO_PATIENCE = 64


class MonitoringBackend(Backend):
    """INSTRUCTION events on instrumented code objects, enabled lazily at their first call.

    While a thread runs alone, its first visible instruction starts the phase's step count and
    then takes the INSTRUCTION callback away until another thread can run: the interpreter still
    reaches the instrumented instructions but calls nothing, and backward jumps (JUMP events)
    count as steps. Taking the callback away, unlike turning a code object's events off, leaves
    every location DISABLE turned off as it is: nothing is re-instrumented when the phase ends.
    The code object that first loops ``SOLO_PATIENCE`` times in the phase also trades its
    INSTRUCTION events for JUMP events until the phase ends, so a lone thread runs its loops at
    nearly full speed. A recording run keeps the callback and the events, to show what the
    thread did, and counts the same jumps.
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
        DISABLE = mon.DISABLE
        wants = self.filter.wants
        model = self.model
        tool = self.tool
        set_local = mon.set_local_events
        INSTRUCTION = mon.events.INSTRUCTION
        enabled = self.enabled
        ctx = self.context
        JUMP = mon.events.JUMP
        register = mon.register_callback
        solo_codes: Dict[int, CodeType] = {}  # id -> code: hashing a code object hashes its bytes
        self.solo_codes = solo_codes

        # Code objects compare equal by content: two ``exec`` of the same text give two equal
        # but distinct code objects, and each needs its own events. Identity decides (``enabled``
        # keeps them alive, so their ids stay theirs).
        started: Set[int] = set()

        def on_start(code: CodeType, offset: int) -> Any:
            if id(code) not in started and wants(code):
                started.add(id(code))
                visible[id(code)] = visible_offsets(code, model)
                set_local(tool, code, INSTRUCTION | JUMP)
                enabled.append(code)
            return DISABLE

        solo_seen = False  # the current solo phase has reached a visible instruction
        muted = False  # ... and the INSTRUCTION callback is taken away until it ends

        def on_instruction(code: CodeType, offset: int) -> Any:
            nonlocal solo_seen, muted
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
                    solo_seen = True
                    start_counting(ex)
                if ex.recorder is not None:
                    ex.solo_visible(code, offset)
                else:
                    muted = True
                    register(tool, INSTRUCTION, None)
                    register(tool, JUMP, on_jump_lone)
                return None
            ex.point(code, offset)
            return None

        # Every backward jump of instrumented code is a loop iteration: ``on_jump`` counts it on
        # the countdown's cells (``left`` here stands for the countdown's own, see ``share``).
        countdown = Countdown(self)
        start_counting = countdown.start_counting
        expired = countdown.expired
        left = room = 0
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

        def on_jump_lone(code: CodeType, offset: int, target: int) -> Any:
            # ``on_jump`` while the INSTRUCTION callback is away, until a code object has looped
            # SOLO_PATIENCE times: then that code trades its events and ``on_jump`` is back.
            nonlocal left
            if target >= offset:
                return DISABLE
            if get_ident() == own_thread[0]:
                left -= 1
                if not left:
                    expired(code, offset)
                elif room - left >= SOLO_PATIENCE:
                    solo_codes[id(code)] = code
                    set_local(tool, code, JUMP)
                    register(tool, JUMP, on_jump)
            return None

        on_jump = countdown.share(on_jump)
        on_jump_lone = countdown.share(on_jump_lone)

        def unmute() -> None:
            nonlocal muted
            muted = False
            register(tool, INSTRUCTION, on_instruction)
            register(tool, JUMP, on_jump)
            if solo_codes:
                for code in solo_codes.values():
                    set_local(tool, code, INSTRUCTION | JUMP)
                solo_codes.clear()

        def begin() -> None:
            nonlocal solo_seen
            countdown.begin()
            own_thread[0] = get_ident()
            solo_seen = False
            if muted:  # an execution that ended without ending its solo phase
                unmute()

        def solo_end() -> int:
            nonlocal solo_seen
            if not solo_seen:
                # No visible instruction in this phase: the countdown never started counting
                # and the callback is in place (a phase ended by a wake-up or a start).
                return 0
            solo_seen = False
            if muted:
                unmute()
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
        self.guard = ToolGuard(tool)
        self.guard.install()

    def uninstall(self) -> None:
        self.guard.uninstall()
        mon = sys.monitoring
        tool = self.tool
        if mon.get_tool(tool) != "interleave":
            return  # freed by a tool that took sys.monitoring's functions before ours
        mon.set_events(tool, 0)
        for code in self.enabled:
            mon.set_local_events(tool, code, 0)
        self.solo_codes.clear()
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.register_callback(tool, mon.events.INSTRUCTION, None)
        mon.register_callback(tool, mon.events.JUMP, None)
        mon.free_tool_id(tool)
        self.enabled = []

    def still_ours(self) -> bool:
        return self.guard.refused is None and sys.monitoring.get_tool(self.tool) == "interleave"

    def displaced_message(self) -> Optional[str]:
        """Why the switch points cannot be trusted any more, if code under test acted on the tool id."""
        if self.guard.refused is None:
            return None
        return (f"code under test called {self.guard.refused}, on the sys.monitoring tool id that makes "
                "interleave's switch points (a profiler or coverage tool started inside the body, or a reset of "
                "every tool): the call was refused, but the executions after it cannot be trusted, so this "
                "exploration has no verdict. Keep such tools out of the body, or start them before explore.")

    def saw_user_code(self) -> bool:
        return bool(self.enabled) and self.still_ours()
