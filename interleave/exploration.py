"""The exploration loop: run a strategy's executions in an open session until a verdict.

``explore`` and lincheck's shared session both run it, so that the order of the checks (time
budget, exhaustion, the execution, the strategy's lesson, the failure) and the seed each
execution gets are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol, Tuple

from .runtime.outcome import Outcome
from .runtime.watchdog import TimeUp
from .strategies.base import Strategy
from .sync.vtime import _real_perf_counter as _clock


class _Session(Protocol):
    ended_daemons: List[Any]

    def run_once(self, strategy: Strategy, random_seed: int, recorder: Any = None) -> Outcome: ...

    def check_interrupt(self) -> None: ...

    def set_deadline(self, seconds: Optional[float]) -> None: ...


def derive_seed(seed: int, index: int) -> int:
    """The random seed of execution ``index`` of an exploration with ``seed``."""
    return (seed * 1_000_003 + index * 7919 + 17) & 0x7FFFFFFF


@dataclass
class Explored:
    """How the loop ended."""

    executions: int
    exhausted: bool
    #: What ended it: failure | exhausted | unproved | executions | time.
    stop: str
    #: The failing execution and its random seed, when an execution failed.
    failed: Optional[Outcome] = None
    failed_seed: int = 0
    #: The time budget ran out in the middle of an execution: it was stopped, and is not counted.
    cut: bool = False
    #: Why a strategy that ran out of schedules (or had to stop) has no proof ("unproved"):
    #: "fairness", "loop-timer", "divergence".
    not_a_proof: Tuple[str, ...] = ()
    #: Where the program left a replayed schedule, when that stopped the search.
    diverged: str = ""
    #: Daemon threads an execution before the divergence ended with its body (their names).
    kept_threads: Tuple[str, ...] = ()

    def notes(self) -> List[str]:
        """What a result should say besides its verdict."""
        if self.diverged:
            note = f"the search stopped at execution {self.executions}: {self.diverged}"
            if self.kept_threads:
                several = len(self.kept_threads) > 1
                them = "them" if several else "it"
                names = ", ".join(self.kept_threads[:3]) + (" and more" if len(self.kept_threads) > 3 else "")
                note += (f". An earlier execution ended daemon thread{'s' if several else ''} {names} with its "
                         f"body: a program that starts such a thread once and keeps it (a monitor or worker a "
                         f"library starts once per process, held in a module or class attribute) does not start "
                         f"it again, so later executions take another path under the same schedule. Stop {them} "
                         f"and reset what holds {them} in the body, or configure the library to start none")
            return [note]
        if not self.cut:
            return []
        return [f"the time budget ran out during execution {self.executions + 1}, which was still running "
                "well after it and was stopped unjudged (it is not counted): one execution takes longer than "
                "the budget (a loop that waits for real, or long computing). Raise time_budget, or lower "
                "max_steps so that an endless loop ends at the step limit first"]


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
    if time_budget is not None:
        # Executions are judged whole: the one running when the budget runs out may finish.
        # Only one still running a while later is stopped (and then no short execution is).
        session.set_deadline(start + time_budget + _overrun_allowed(time_budget) - _clock())
    try:
        return _loop(session, strategy, executions, seed, start, time_budget, recorder, after, progress)
    finally:
        if time_budget is not None:
            session.set_deadline(None)


def _overrun_allowed(time_budget: float) -> float:
    return min(max(0.5, 0.1 * time_budget), 30.0)


def _loop(session: _Session, strategy: Strategy, executions: int, seed: int, start: float,
          time_budget: Optional[float], recorder: Callable[[], Any],
          after: Optional[Callable[[Outcome, int], bool]], progress: Optional[Callable[[int], None]]) -> Explored:
    ran = 0
    patient = unfair = False
    for i in range(executions):
        if time_budget is not None and _clock() - start >= time_budget:
            return Explored(ran, False, "time")
        if strategy.bounded and strategy.exhausted():
            return _exhausted(ran, patient, unfair, strategy)
        # A systematic search replays prefixes of earlier executions: each must see the same
        # ``random`` values as the one it replays, or the program takes another path.
        rseed = derive_seed(seed, 0 if strategy.bounded else i)
        try:
            outcome = session.run_once(strategy, rseed, recorder())
        except TimeUp:
            session.check_interrupt()  # a Ctrl-C that came meanwhile wins
            return Explored(ran, False, "time", cut=True)
        session.check_interrupt()
        ran += 1
        patient = patient or outcome.patient_waits
        unfair = unfair or outcome.fair_yields > 0
        if progress is not None:
            progress(ran)
        strategy.end_execution(outcome)
        if outcome.kind == "divergence" and strategy.bounded:
            # The program, not its schedule, changed (it reads state the harness does not control):
            # no failing schedule was found, and the search cannot go on.
            return Explored(ran, False, "unproved", not_a_proof=("divergence",), diverged=outcome.detail,
                            kept_threads=tuple(b.thread for b in session.ended_daemons))
        if outcome.failed:
            return Explored(ran, False, "failure", outcome, rseed)
        if after is not None and after(outcome, rseed):
            return Explored(ran, False, "failure")
    if strategy.bounded and strategy.exhausted():
        return _exhausted(ran, patient, unfair, strategy)
    return Explored(ran, False, "executions")


def _exhausted(ran: int, patient: bool, unfair: bool, strategy: Strategy) -> Explored:
    """The strategy ran out of schedules: a proof, unless some schedules were never open to it.

    A thread made to yield by the fairness bound could have run on (a long loop that ends is
    not a spin-wait), and a wait the strategy cannot reason about may have hidden choices.
    """
    why = (("fairness",) if unfair else ()) + (("loop-timer",) if patient and not strategy.proves_patient_waits else ())
    if why:
        return Explored(ran, False, "unproved", not_a_proof=why)
    return Explored(ran, True, "exhausted")
