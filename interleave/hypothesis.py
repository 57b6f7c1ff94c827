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
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .errors import InterleaveFailure, OptionError
from .result import Result
from .strategies.schedule_draws import ScheduleDraws

__all__ = ["Schedule", "schedules", "ScheduleDraws", "raise_for_hypothesis"]


def _final_example() -> bool:
    """Whether Hypothesis is running the example it will report (its last, shrunk one)."""
    try:
        from hypothesis.control import current_build_context

        return bool(getattr(current_build_context(), "is_final", False))
    except Exception:  # noqa: BLE001 - not inside @given, or an older Hypothesis
        return False


def add_note(exc: BaseException, text: str) -> None:
    """Attach ``text`` to ``exc`` as a note (``__notes__`` below 3.11), once."""
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
        add_note(f.exception, f.report)
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
            hint: Optional[str] = None, timeouts: str = "anytime") -> Result:
        """Run ``body`` once under this schedule; raise on failure (see :func:`raise_for_hypothesis`).

        ``timeouts`` is :func:`interleave.explore`'s: ``"when-stuck"`` for code whose timeouts are
        safety nets.
        """
        from .api import DEFAULT_MAX_STEPS, explore

        strat = ScheduleDraws(self._source.randint, self.max_preemptions)
        kwargs: Dict[str, Any] = {}
        if hint is not None:
            kwargs["hint"] = hint
        # Hypothesis shrinks the example; the run it reports last also gets interleave's own
        # shrinking (fewest preemptions first, by iterative preemption bounding), so that the
        # report and token show a minimal interleaving even where Hypothesis's shrinker stops early.
        result = explore(body, executions=1, strategy=strat, seed=0, model=model,
                         max_steps=DEFAULT_MAX_STEPS if max_steps is None else max_steps,
                         instrument=instrument, exclude=exclude, backend=backend,
                         shrink=_final_example(), timeouts=timeouts, **kwargs)
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
