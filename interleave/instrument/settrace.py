"""Switch points from ``sys.settrace`` opcode events (Python 3.10-3.11, or by choice)."""

from __future__ import annotations

import inspect
import sys
from _thread import get_ident as _get_ident
from types import CodeType, FrameType
from typing import Any, Callable, Dict, FrozenSet, List, Optional

from ..versions import CURRENT
from .backend import Backend
from .loops import Countdown
from .opcodes import loop_heads, visible_offsets

# Below 3.12 a frame's opcode events can be turned off and on for that frame alone. From 3.12
# they belong to its code object, and turning them back on from outside a frame that has
# finished does not always take (3.13): lone frames keep them, and passes through loop heads
# count as the steps.
SILENCE = CURRENT.settrace_rearm
# CPython copies a traced frame's locals into a dict before each trace callback and back after
# it (``versions.trace_writes_locals_back``). A switch point inside the callback lets other
# threads run in between: for a frame with closure cells, the copy back would undo what they
# wrote to a shared cell (a ``nonlocal`` counter lost an increment made under a lock). Reading
# ``f_locals`` after the switch takes the copy again, so the copy back writes today's values.
REFRESH_CELLS = CURRENT.trace_writes_locals_back
# Code whose frame a "return" event may leave suspended, to be resumed later.
_SUSPENDS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_real_settrace = sys.settrace


class SettraceBackend(Backend):
    """A global trace function that turns on opcode events in instrumented frames.

    While a thread runs alone, a frame that reaches a visible instruction trades its opcode
    events for line events (a backward jump counts as a step) until another thread can run.
    Recording runs keep the opcode events and count the same jumps. From 3.12 on frames keep
    their opcode events (see ``SILENCE``): they stop being switch points, and each pass through
    a loop head counts as a step.
    """

    name = "settrace"
    supports_solo = True

    def install(self) -> None:
        self.old = sys.gettrace()
        self.instrumented = 0
        self.intact = True
        self.displaced_at: Optional[str] = None  # where code under test called sys.settrace
        tracers: Dict[CodeType, Optional[Callable[..., Any]]] = {}
        first_seen: Dict[int, CodeType] = {}
        # The same by id, which ``keep`` holds: hashing a code object hashes its constants and
        # names every time, and this lookup runs at every call.
        by_id: Dict[int, Any] = {}
        keep: List[CodeType] = []
        wants = self.filter.wants
        model = self.model
        ctx = self.context
        # frame -> its tracer, while it runs solo; a frame that returned is dropped at once (it
        # holds its locals: the program's objects must die when it lets them go)
        marked: Dict[FrameType, Callable[..., Any]] = {}
        # Every pass through a loop head of instrumented code is a loop iteration: the tracers
        # count it on the countdown's cells (``room`` and ``left`` here stand for the
        # countdown's own: ``make_local`` and ``mark`` are shared, see ``Countdown.share``).
        countdown = Countdown(self)
        start_counting = countdown.start_counting
        expired = countdown.expired
        room = left = 0
        self.solo_steps = countdown.solo_steps  # type: ignore[method-assign]
        self.hurry = countdown.hurry  # type: ignore[method-assign]

        def begin() -> None:
            countdown.begin()
            # CPython drops the trace function when it raises (as teardown makes it do): reinstall.
            _real_settrace(global_trace)

        self.begin_execution = begin  # type: ignore[method-assign]

        def make_local(vis: FrozenSet[int], heads: FrozenSet[int], cells: bool) -> Callable[..., Any]:
            watch = vis | heads

            def local(frame: FrameType, event: str, arg: Any) -> Any:
                nonlocal left
                if event == "opcode":
                    offset = frame.f_lasti
                    if offset in watch:
                        ex = ctx.active
                        # sys.settrace is per OS thread: only the exploring thread gets here.
                        if ex is not None:
                            if offset in vis:
                                if ex.budget:
                                    ex.budget -= 1
                                elif ex.solo:
                                    if ex.recorder is not None:
                                        ex.solo_visible(frame.f_code, offset)
                                    if SILENCE and frame.f_trace is local:
                                        return mark(frame, local, ex)
                                else:
                                    ex.point(frame.f_code, offset)
                                    if cells:
                                        frame.f_locals  # noqa: B018 - see REFRESH_CELLS
                            if offset in heads:
                                if not SILENCE and ex.solo and not room:
                                    # From 3.12 lone frames stay traced: their loop heads count.
                                    start_counting(ex)
                                left -= 1
                                if not left:
                                    expired(frame.f_code, offset)
                return local

            return local

        def mark(frame: FrameType, local: Callable[..., Any], ex: Any) -> Callable[..., Any]:
            if not room:
                start_counting(ex)
            last = -1

            def solo(frame: FrameType, event: str, arg: Any) -> Any:
                nonlocal last, left
                if event == "line":
                    offset = frame.f_lasti
                    if offset <= last:  # a backward jump: one more loop iteration
                        left -= 1
                        if not left:
                            expired(frame.f_code, offset)
                            if frame.f_trace is not solo:
                                return frame.f_trace  # this frame's own tracer again
                    last = offset
                elif event == "opcode":
                    local(frame, event, arg)
                elif event == "return" and not frame.f_code.co_flags & _SUSPENDS:
                    marked.pop(frame, None)  # over (a generator's frame may be resumed)
                return solo

            marked[frame] = local
            frame.f_trace = solo
            frame.f_trace_lines = True
            if ex.recorder is None:
                frame.f_trace_opcodes = False
            return solo

        make_local = countdown.share(make_local)
        mark = countdown.share(mark)

        def solo_end() -> int:
            for frame, local in marked.items():
                frame.f_trace = local
                frame.f_trace_lines = False
                frame.f_trace_opcodes = True
            marked.clear()
            return countdown.end_solo()

        self.solo_end = solo_end  # type: ignore[method-assign]

        def first_call(local: Callable[..., Any]) -> Callable[..., Any]:
            # 3.13 instruments a code object for opcode events only from its next call on,
            # unless asked again from inside the frame: the first line event is early enough
            # (it comes before the first opcode event after RESUME).
            def trace(frame: FrameType, event: str, arg: Any) -> Any:
                if event == "line":
                    frame.f_trace_opcodes = True
                    frame.f_trace_lines = False
                    frame.f_trace = local
                    return local
                return local(frame, event, arg)

            return trace

        def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
            code = frame.f_code
            first = False
            try:
                local = by_id[id(code)]
            except KeyError:
                try:
                    local = tracers[code]
                except KeyError:
                    local = make_local(visible_offsets(code, model), loop_heads(code),
                                       REFRESH_CELLS and bool(code.co_cellvars or code.co_freevars)
                                       ) if wants(code) else None
                    tracers[code] = local
                    if local is not None:
                        self.instrumented += 1
                by_id[id(code)] = local
                keep.append(code)
            if local is None:
                return None
            # Code objects compare equal by content (two ``exec`` of one text): equal ones share
            # a tracer, but each object is instrumented afresh the first time it runs.
            if id(code) not in first_seen:
                first_seen[id(code)] = code  # kept alive: its id stays its own
                first = True
            if first and CURRENT.opcode_events_per_code:
                # 3.12+ keep "opcode events wanted" on the code object after a run, and an
                # earlier exploration (one with sys.monitoring in between, on 3.13) can leave the
                # code believing it is instrumented when it is not: every frame then ran with no
                # opcode event, no switch point, and exhaustive search "proved" a racy body
                # correct. Turning the request off and on makes CPython instrument it afresh.
                frame.f_trace_opcodes = False
            frame.f_trace_opcodes = True
            if first and CURRENT.opcode_events_per_code:
                # Without this, the first call of each code object runs with no opcode events
                # on 3.12+, and the first execution would take other switch points than the rest.
                if CURRENT.first_call_events == "settrace":
                    _real_settrace(global_trace)  # re-instruments the frame that is running
                else:
                    frame.f_trace_lines = True
                    return first_call(local)
            frame.f_trace_lines = False
            return local

        self.global_trace = global_trace
        if SILENCE:
            # 3.10/3.11 keep a "tracing is on" flag per C stack frame, and a greenlet switched to
            # from inside a trace callback (where it is off) can resume with it off: its frames
            # then get no events at all, and a loop in them would never end. Setting the trace
            # function again recomputes the flag.
            self.on_resume = lambda: _real_settrace(global_trace)
        self.tracers = tracers
        _real_settrace(global_trace)
        sys.settrace = self._settrace_in_a_run

    def _settrace_in_a_run(self, function: Optional[Callable[..., Any]]) -> None:
        """``sys.settrace`` while installed: code under test may not take the trace function.

        Installed, the program's tracer would replace the one that makes switch points, and the
        executions after it would pass untested (on 3.10-3.11 the runtime sets its own again
        when a thread resumes, so a thread started with ``threading.settrace`` in force ran its
        first stretch untraced: a race there was never found). The call is refused and noted;
        the exploration then ends with InstrumentationError. Outside a run it goes through.
        """
        ex = self.context.active
        if ex is None or _get_ident() != ex.os_ident or function is self.global_trace:
            _real_settrace(function)  # outside a run, or the runtime re-arming this back-end
            return
        if self.displaced_at is None:
            f = sys._getframe(1)
            self.displaced_at = f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"

    def uninstall(self) -> None:
        if sys.settrace == self._settrace_in_a_run:
            sys.settrace = _real_settrace
        _real_settrace(self.old)

    def end_execution(self) -> None:
        self.intact = sys.gettrace() is self.global_trace

    def saw_user_code(self) -> bool:
        return self.instrumented > 0 and self.still_ours()

    def still_ours(self) -> bool:
        return self.intact and self.displaced_at is None

    def on_greenlet_start(self) -> None:
        super().on_greenlet_start()
        if SILENCE:
            _real_settrace(self.global_trace)  # recomputes the per-greenlet use_tracing flag
