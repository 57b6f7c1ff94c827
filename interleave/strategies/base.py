"""The strategy protocol: a strategy sees thread ids, never greenlets."""

from __future__ import annotations

from typing import Any, List, Tuple

from ..runtime.outcome import Divergence

__all__ = ["Divergence", "Strategy"]


class Strategy:
    """Decides, at each switch point whose grant ran out, which thread runs and for how long."""

    name = "?"
    #: True for strategies that can cover their whole (bounded) space and say so.
    bounded = False
    #: While the current thread is the only runnable one the runtime does not ask the strategy
    #: (there is no choice); those picks are added to ``used`` at the next call. A strategy
    #: that must be asked at every pick anyway sets this to True.
    every_pick = False
    #: While a thread runs alone its visible instructions are not switch points (they are not
    #: even traced). A strategy that records every switch point itself (DPOR) sets this to
    #: True to have them passed and counted as before.
    sees_lone_points = False

    def new_execution(self) -> bool:
        """Prepare the next execution; False when a bounded strategy has covered its space."""
        return True

    def exhausted(self) -> bool:
        """For bounded strategies: True once every schedule in the bound has been run."""
        return False

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        """Pick a thread from ``runnable`` (sorted ids) and how many picks it gets in a row.

        ``current`` is the thread whose grant just ended (it may be blocked or finished and
        then is not in ``runnable``); ``used`` is how many picks that grant consumed.
        """
        raise NotImplementedError

    def end_execution(self, outcome: Any) -> None:
        """Learn from the execution that just ended."""

    def describe(self) -> str:
        """A short description for reports, e.g. ``pct(depth=3)``."""
        return self.name

    def close(self) -> None:
        """Release what the strategy holds; called once, when the exploration's loop has ended."""
