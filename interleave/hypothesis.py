"""Hypothesis integration: ``schedules()`` lets Hypothesis search, shrink and store thread interleavings.

::

    from hypothesis import given, strategies as st
    from interleave.hypothesis import schedules

    @given(amount=st.integers(1, 50), schedule=schedules())
    def test_transfer(amount, schedule):
        def body():
            ...                                  # ordinary threading code
        schedule.run(body)                       # one execution, under the drawn interleaving

Every scheduling decision of the run is drawn from Hypothesis's choice sequence while the body
runs: at each point where a thread could be preempted, "no preemption" is the simplest choice
and the lowest-numbered thread is the simplest pick. Hypothesis therefore shrinks a failing
example toward fewer preemptions first (together with the other inputs), stores it in its
example database and replays it first on the next run. The run Hypothesis reports last is also
shrunk by interleave (iterative preemption bounding), so that the report and its token show an
interleaving with the fewest preemptions even where Hypothesis's shrinker stops at a local
minimum (the inputs stay Hypothesis's). A failure raises the body's own
exception (deadlocks and step limits raise :class:`interleave.InterleaveFailure`) with the
interleave report, thread-by-thread table and replay token attached as a note.
"""

from __future__ import annotations

import random
from typing import Any, Callable, List, Optional, Sequence, Tuple

from .errors import InterleaveFailure, OptionError
from .result import Result
from .runtime import context
from .strategies.base import Strategy

__all__ = ["Schedule", "schedules", "ScheduleDraws", "raise_for_hypothesis"]

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
    from .runtime.tstate import TracingCounters

    try:
        return list(TracingCounters().slots)
    except Exception:  # noqa: BLE001 - unsupported layout: locals stay per OS thread, nothing to swap
        return []


def _final_example() -> bool:
    """Whether Hypothesis is running the example it will report (its last, shrunk one)."""
    try:
        from hypothesis.control import current_build_context

        return bool(getattr(current_build_context(), "is_final", False))
    except Exception:  # noqa: BLE001 - not inside @given, or an older Hypothesis
        return False


def _add_note(exc: BaseException, text: str) -> None:
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list) and text in notes:
        return
    if hasattr(exc, "add_note"):
        exc.add_note(text)
    else:  # Python < 3.11: pytest and Hypothesis read __notes__ all the same
        try:
            exc.__notes__ = [*(notes or []), text]  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass


def raise_for_hypothesis(result: Result) -> None:
    """Raise the failure so that Hypothesis tells different failures apart (type and line of the raise).

    An exception from the code under test is re-raised as itself with the interleave report
    as a note; a deadlock, a step limit or a divergence raises ``InterleaveFailure`` from a
    line of its own.
    """
    f = result.failure
    if f is None:
        return
    if f.kind == "exception" and isinstance(f.exception, Exception):
        _add_note(f.exception, f.report)
        raise f.exception
    if f.kind == "deadlock":
        raise InterleaveFailure(f.report, result)
    if f.kind == "step-limit":
        raise InterleaveFailure(f.report, result)
    raise InterleaveFailure(f.report, result)


class Schedule:
    """One interleaving, drawn lazily from Hypothesis while the body runs: ``schedule.run(body)``."""

    def __init__(self, source: random.Random, max_preemptions: Optional[int] = None) -> None:
        self._source = source
        self.max_preemptions = max_preemptions
        self.result: Optional[Result] = None
        self.preemptions: List[Tuple[int, int, int]] = []

    def run(self, body: Callable[[], Any], *, model: str = "instruction", max_steps: Optional[int] = None,
            instrument: Sequence[str] = (), exclude: Sequence[str] = (), backend: str = "auto",
            hint: Optional[str] = None) -> Result:
        """Run ``body`` once under this schedule; raise on failure (see :func:`raise_for_hypothesis`)."""
        from .api import DEFAULT_MAX_STEPS, explore

        strat = ScheduleDraws(self._source.randint, self.max_preemptions)
        kwargs: dict = {}
        if hint is not None:
            kwargs["hint"] = hint
        # Hypothesis shrinks the example; the run it reports last also gets interleave's own
        # shrinking (fewest preemptions first, by iterative preemption bounding), so that the
        # report and token show a minimal interleaving even where Hypothesis's shrinker stops early.
        result = explore(body, executions=1, strategy=strat, seed=0, model=model,
                         max_steps=DEFAULT_MAX_STEPS if max_steps is None else max_steps,
                         instrument=instrument, exclude=exclude, backend=backend,
                         shrink=_final_example(), **kwargs)
        self.result = result
        self.preemptions = list(strat.decisions)
        if strat.error is not None:
            raise strat.error  # Hypothesis ended the example (e.g. it ran out of data): let it say so
        raise_for_hypothesis(result)
        return result

    def __repr__(self) -> str:
        if self.result is None:
            cap = "" if self.max_preemptions is None else f"max_preemptions={self.max_preemptions}"
            return f"schedules({cap})"
        moves = ", ".join(f"step {s}: thread {a} -> {b}" for s, a, b in self.preemptions) or "none"
        return f"<schedule: {len(self.preemptions)} preemption(s): {moves}>"


def schedules(*, max_preemptions: Optional[int] = None) -> Any:
    """A Hypothesis strategy of :class:`Schedule` values: ``@given(schedule=schedules())``.

    ``max_preemptions`` caps the preemptions in one execution (``None``: no cap).
    """
    try:
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - hypothesis is a dependency
        raise ImportError("interleave.hypothesis needs the hypothesis package: pip install hypothesis") from exc
    if max_preemptions is not None and (isinstance(max_preemptions, bool) or not isinstance(max_preemptions, int)
                                        or max_preemptions < 0):
        raise OptionError(f"max_preemptions must be None or an integer >= 0; got {max_preemptions!r}")
    return st.randoms(note_method_calls=False, use_true_random=False).map(
        lambda source: Schedule(source, max_preemptions))
