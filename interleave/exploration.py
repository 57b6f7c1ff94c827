"""The exploration loop: run a strategy's executions in an open session until a verdict.

``explore`` and lincheck's shared session both run it, so that the order of the checks (time
budget, exhaustion, the execution, the strategy's lesson, the failure) and the seed each
execution gets are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from .runtime.outcome import Outcome
from .strategies.base import Strategy
from .sync.vtime import _real_perf_counter as _clock


class _Session(Protocol):
    def run_once(self, strategy: Strategy, random_seed: int, recorder: Any = None) -> Outcome: ...

    def check_interrupt(self) -> None: ...


def derive_seed(seed: int, index: int) -> int:
    """The random seed of execution ``index`` of an exploration with ``seed``."""
    return (seed * 1_000_003 + index * 7919 + 17) & 0x7FFFFFFF


@dataclass
class Explored:
    """How the loop ended."""

    executions: int
    exhausted: bool
    #: What ended it: failure | exhausted | executions | time.
    stop: str
    #: The failing execution and its random seed, when an execution failed.
    failed: Optional[Outcome] = None
    failed_seed: int = 0


def run_executions(session: _Session, strategy: Strategy, *, executions: int, seed: int, start: float,
                   time_budget: Optional[float] = None, recorder: Callable[[], Any] = lambda: None,
                   after: Optional[Callable[[Outcome, int], bool]] = None,
                   progress: Optional[Callable[[int], None]] = None) -> Explored:
    """Run up to ``executions`` executions of ``strategy``; stop at the first failure.

    ``start`` is when the time budget began; ``recorder()`` gives each execution its recorder;
    ``after(outcome, random_seed)`` sees each execution that did not fail and returns True to
    end the loop as a failure (a race found); ``progress(n)`` is told the count after each one.
    The strategy is not closed here: callers close it where its clean-up may run.
    """
    ran = 0
    for i in range(executions):
        if time_budget is not None and _clock() - start >= time_budget:
            return Explored(ran, False, "time")
        if strategy.bounded and strategy.exhausted():
            return Explored(ran, True, "exhausted")
        rseed = derive_seed(seed, i)
        outcome = session.run_once(strategy, rseed, recorder())
        session.check_interrupt()
        ran += 1
        if progress is not None:
            progress(ran)
        strategy.end_execution(outcome)
        if outcome.failed:
            return Explored(ran, False, "failure", outcome, rseed)
        if after is not None and after(outcome, rseed):
            return Explored(ran, False, "failure")
    if strategy.bounded and strategy.exhausted():
        return Explored(ran, True, "exhausted")
    return Explored(ran, False, "executions")
