"""A strategy whose every decision is an integer drawn from a source: Hypothesis's choice sequence.

:mod:`interleave.hypothesis` (``schedules()``) and the ``hypothesis`` strategy draw their
decisions through it; 0 is always the simplest choice, so a shrinking source shrinks toward
fewer preemptions and lower-numbered threads.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from ..runtime import context
from .base import Strategy

__all__ = ["ScheduleDraws", "MAX_SCALE", "MAX_DRAWS"]

#: A planned preemption comes after at most 2**(MAX_SCALE - 1) steps. The delay is drawn as a
#: scale (0: no preemption) and then a number up to 2**(scale - 1): short delays, where races
#: hide, are as likely as long ones, and both draws shrink toward "no preemption".
MAX_SCALE = 7
#: Scheduling draws per execution; later decisions take the simplest choice (keeps examples small).
MAX_DRAWS = 400
_FOREVER = 1 << 30


class ScheduleDraws(Strategy):
    """A strategy whose every decision is an integer drawn from ``draw(lo, hi)``; 0 is always the simplest.

    When the set of runnable threads changes (a thread starts, a lock is released), a drawn
    *delay* says when the running thread is preempted: 0 means not at all (it runs until it
    blocks or ends), 1 means now, d means after d - 1 more steps. At a preemption, and when
    the running thread blocks or ends, a drawn index picks the next thread among the
    candidates (0: the lowest-numbered) and a delay for it (0: never preempted, d: after d
    steps).
    """

    name = "hypothesis"

    def __init__(self, draw: Callable[[int, int], int], max_preemptions: Optional[int] = None,
                 max_scale: int = MAX_SCALE, max_draws: int = MAX_DRAWS, record: bool = False,
                 own_locals: bool = True) -> None:
        self.draw_source = draw
        self.record = record
        self.own_locals = own_locals
        self._slots: List[Any] = []
        self._outside: List[Any] = []
        self.bounds: List[Tuple[int, int]] = []  # (lo, hi) of every draw, when recording
        self.max_preemptions = max_preemptions
        self.max_scale = max_scale
        self.max_draws = max_draws
        self.error: Optional[BaseException] = None
        self.new_execution()

    def new_execution(self) -> bool:
        """Reset the per-execution state."""
        self.left: Optional[int] = None  # steps until the planned preemption; None: no plan
        self.plan_tid: Optional[int] = None
        self.preemptions = 0
        self.draws = 0
        self.decisions: List[Tuple[int, int, int]] = []  # (step, from tid, to tid) of each preemption
        self.step = 0
        if self.own_locals:
            # Draws run inside the execution, where C thread-locals are the running virtual
            # thread's; Hypothesis keeps state in thread-locals, so draws use the caller's.
            self._slots = _thread_local_slots()
            self._outside = [slot.value for slot in self._slots]
        return True

    def _draw(self, lo: int, hi: int) -> int:
        if hi <= lo or self.error is not None or self.draws >= self.max_draws:
            return lo
        self.draws += 1
        if self.record:
            self.bounds.append((lo, hi))
        # Hypothesis runs as if outside the execution: no switch points in what it calls (its
        # attrs-generated methods would count as code under test), real locks and clocks, and
        # the calling thread's C thread-locals (where Hypothesis keeps state) instead of the
        # running virtual thread's.
        active = context.active
        context.active = None
        slots = self._slots
        inside = [slot.value for slot in slots]
        for slot, value in zip(slots, self._outside):
            slot.value = value
        try:
            return int(self.draw_source(lo, hi))
        except BaseException as exc:  # noqa: BLE001 - e.g. StopTest: re-raised after the execution
            self.error = exc
            return lo
        finally:
            for slot, value in zip(slots, inside):
                slot.value = value
            context.active = active

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        """Continue a planned run, or draw who runs next and when it will be preempted."""
        self.step += used
        planned = self.left is not None and self.plan_tid == current
        if planned:
            self.left -= used  # type: ignore[operator]
        if len(runnable) == 1:
            # Nobody to switch to; a thread becoming runnable cuts this grant and we decide again.
            self.left = self.plan_tid = None
            return runnable[0], _FOREVER
        if current in runnable:
            if planned and self.left > 0:  # type: ignore[operator]
                return current, self.left  # type: ignore[return-value]
            if not planned:
                # A decision point with no plan (the runnable set changed): preempt now, later or never.
                delay = self._delay()
                if delay == 0:
                    return current, _FOREVER
                if delay > 1:
                    self.left, self.plan_tid = delay - 1, current
                    return current, delay - 1
            others = [t for t in runnable if t != current]
            tid = others[self._draw(0, len(others) - 1)]
            self.preemptions += 1
            self.decisions.append((self.step, current, tid))
        else:
            tid = runnable[self._draw(0, len(runnable) - 1)]
        delay = self._delay()
        if delay == 0:
            self.left = self.plan_tid = None
            return tid, _FOREVER
        self.left, self.plan_tid = delay, tid
        return tid, delay

    def _delay(self) -> int:
        """0: no preemption planned; d: preempt after d steps (drawn; capped by max_preemptions)."""
        if self.max_preemptions is not None and self.preemptions >= self.max_preemptions:
            return 0
        scale = self._draw(0, self.max_scale)
        return 0 if scale == 0 else self._draw(1, 1 << (scale - 1))

    def describe(self) -> str:
        """``hypothesis`` plus the preemption cap, if any."""
        cap = f"(preemptions<={self.max_preemptions})" if self.max_preemptions is not None else ""
        return f"{self.name}{cap}"


def _thread_local_slots() -> List[Any]:
    """This OS thread's thread-local slots, as the runtime swaps them between virtual threads."""
    from ..runtime.tstate import TracingCounters

    try:
        return list(TracingCounters().slots)
    except Exception:  # noqa: BLE001 - unsupported layout: locals stay per OS thread, nothing to swap
        return []
