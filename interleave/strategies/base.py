"""The strategy protocol: every hook a strategy may implement, with its default.

A strategy sees thread ids (and, through ``bind``, a read-only view of pending operations),
never greenlets. The runtime drives it per exploration as::

    expect(executions)                       # once, before the first: the budget's bound
    for each execution:
        new_execution()                      # False: a bounded strategy has nothing left
        bind(view)                           # the execution about to run
        choose(runnable, current, used) ...  # at every switch point whose grant ran out
        end_execution(outcome)
    close()                                  # once, after the last execution

The flags (``bounded``, ``every_pick``, ``sees_lone_points``, ``records``) tell the runtime how
to drive it. A new strategy is one module with a subclass, plus its line in
:mod:`interleave.strategies.registry`; ``tests/test_strategy_conformance.py`` then runs it
through the common contract.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, List, Mapping, Tuple, Type, TypeVar

from ..runtime.outcome import Divergence

__all__ = ["Divergence", "Strategy"]

_S = TypeVar("_S", bound="Strategy")


class Strategy:
    """Decides, at each switch point whose grant ran out, which thread runs and for how long."""

    name = "?"
    #: True for strategies that can cover their whole (bounded) space and say so: only they may
    #: return False from ``new_execution`` or True from ``exhausted``.
    bounded = False
    #: While the current thread is the only runnable one the runtime does not ask the strategy
    #: (there is no choice); those picks are added to ``used`` at the next call. A strategy
    #: that must be asked at every pick anyway sets this to True.
    every_pick = False
    #: While a thread runs alone its visible instructions are not switch points (they are not
    #: even traced). A strategy that records every switch point itself (DPOR) sets this to
    #: True to have them passed and counted as before.
    sees_lone_points = False
    #: True for a strategy that is also the execution's recorder (it has the recorder's
    #: ``step``/``switch``/``finish``): ``explore`` passes it to the runtime as one (DPOR).
    records = False
    #: Counters for ``Result.strategy_stats`` (DPOR: classes, sleep-blocked executions...).
    stats: Mapping[str, int] = MappingProxyType({})

    @classmethod
    def from_options(cls: Type[_S], seed: int, **params: Any) -> _S:
        """The strategy for ``explore(strategy=name, seed=..., **params)``; the registry has
        already refused parameters the strategy does not declare."""
        return cls(seed, **params)  # type: ignore[call-arg]

    def expect(self, executions: int) -> None:
        """Learn, before the first execution, the most executions the exploration will run."""

    #: Whether exhausting this strategy still proves the program when some timed wait may run out
    #: early only while no thread can run (an asyncio loop's timer, ``WaitQueue.patient``).
    proves_patient_waits = True

    def use_timeouts(self, timeouts: str) -> None:
        """Learn, before the first execution, when pending timeouts may run out (``explore(timeouts=...)``)."""

    def new_execution(self) -> bool:
        """Prepare the next execution; False when a bounded strategy has covered its space."""
        return True

    def exhausted(self) -> bool:
        """For bounded strategies: True once every schedule in the bound has been run."""
        return False

    def bind(self, view: Any) -> None:
        """See the execution about to run (an ``ExecutionView``: pending operations, virtual time)."""

    # This one ignores it: the session then makes none (a subclass's own ``bind`` lacks the mark).
    bind.ignores_view = True  # type: ignore[attr-defined]

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        """Pick a thread from ``runnable`` (sorted ids) and how many picks it gets in a row.

        ``current`` is the thread whose grant just ended (it may be blocked or finished and
        then is not in ``runnable``); ``used`` is how many picks that grant consumed. The
        count must be positive.
        """
        raise NotImplementedError

    def end_execution(self, outcome: Any) -> None:
        """Learn from the execution that just ended."""

    def describe(self) -> str:
        """A short description for reports, e.g. ``pct(depth=3)``."""
        return self.name

    def describe_active(self) -> str:
        """What ran the latest execution, for a failure's "found by" (a portfolio names its member)."""
        return self.describe()

    @property
    def bound_description(self) -> str:
        """For bounded strategies: what an exhausted search covered, in words; else ''."""
        return ""

    def close(self) -> None:
        """Release what the strategy holds; called once, when the exploration's loop has ended."""
