"""One interleave session for all the scenarios of a check.

``interleave.explore`` sets up the controlled world (patches, adoption of pre-existing
primitives, instrumentation, a watchdog) for every call and tears it down after: tens of
milliseconds, more in a large process, since adoption scans the heap. A check explores a
hundred scenarios and Hypothesis asks for more while shrinking, so the set-up would cost more
than the executions. This module opens the session once and runs each scenario's executions
in it, the same way ``explore`` does (same strategy, same per-execution seeds), without
shrinking or reporting: a scenario only needs "failed or not". The failing scenario is then
explored once more with ``interleave.explore`` itself, which shrinks its schedule and writes
the report.

It runs the same loop as ``explore`` (:func:`interleave.exploration.run_executions`).
``AVAILABLE`` False makes the check use one ``interleave.explore`` per scenario instead (the
benchmark compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from ..api import DEFAULT_MAX_STEPS
from ..exploration import run_executions
from ..options import model as checked_model
from ..options import names as checked_names
from ..options import optional_int, optional_seconds, positive_int
from ..options import timeouts as checked_timeouts
from ..races import recorder_for
from ..session import Session
from ..strategies import registry
from ..sync.vtime import _real_perf_counter as _clock

#: Whether the check shares one session between scenarios (see the module's docstring).
AVAILABLE = True


@dataclass
class Summary:
    """What one scenario's exploration did: enough to decide and to count."""

    failed: bool
    executions: int
    exhausted: bool
    strategy: str
    bound: str
    model: str
    races: List[Any]
    stop: str = "executions"  # what ended it: failure | exhausted | executions | time


class SharedSession:
    """A session that runs many bodies: ``with SharedSession(...) as s: s.explore(body, ...)``."""

    def __init__(self, *, model: str = "instruction", max_steps: Optional[int] = None, instrument: Any = (),
                 exclude: Any = (), backend: str = "auto", stall_timeout: Optional[float] = None,
                 timeouts: str = "anytime") -> None:
        self.model = checked_model(model)
        self.timeouts = checked_timeouts(timeouts)
        self._body: Callable[[], Any] = _nothing
        self._session = Session(
            self._dispatch, model=self.model,
            max_steps=positive_int("max_steps", DEFAULT_MAX_STEPS if max_steps is None else max_steps),
            instrument=checked_names("instrument", instrument), exclude=checked_names("exclude", exclude),
            backend=backend, stall_timeout=optional_seconds("stall_timeout", stall_timeout), timeouts=self.timeouts)

    def _dispatch(self) -> None:
        self._body()

    def __enter__(self) -> SharedSession:
        self._session.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._session.__exit__(*exc)

    def explore(self, body: Callable[[], Any], *, executions: int, strategy: str, seed: int,
                time_budget: Optional[float] = None, preemptions: Optional[int] = None,
                depth: Optional[int] = None) -> Summary:
        """Run ``body`` under up to ``executions`` schedules of ``strategy``; stop at the first failure."""
        strat = registry.make(strategy, seed, preemptions=optional_int("preemptions", preemptions),
                              depth=optional_int("depth", depth, 1))
        strat.use_timeouts(self.timeouts)
        strat.expect(executions)
        self._body = body
        try:
            run = run_executions(self._session, strat, executions=executions, seed=seed, start=_clock(),
                                 time_budget=time_budget, recorder=lambda: recorder_for(strat, None))
        finally:
            self._body = _nothing
            strat.close()
        return Summary(run.stop == "failure", run.executions, run.exhausted, strat.describe(),
                       strat.bound_description, self.model, [], run.stop)


def shared_enabled() -> bool:
    """Whether checks share one session between scenarios (``AVAILABLE``, read at each check)."""
    return AVAILABLE


def warm_up(strategy: str, seed: int, preemptions: Optional[int], depth: Optional[int]) -> None:
    """Build one strategy before the session opens: some start a helper thread on first use
    (``hypothesis`` does), which must be a real thread, not one the session would patch."""
    registry.make(strategy, seed, preemptions=optional_int("preemptions", preemptions),
                   depth=optional_int("depth", depth, 1))


def _nothing() -> None:
    return None
