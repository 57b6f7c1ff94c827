"""The default: rotate strategies so that shallow, ordering and deep bugs all fall quickly."""

from __future__ import annotations

from typing import List, Tuple

from .base import Strategy
from .pct import PCTStrategy
from .pos import POSStrategy
from .random_walk import RandomStrategy


class PortfolioStrategy(Strategy):
    """Executions cycle through uniform random, PCT at depths 5, 3, 5 and 2, and POS (3 in 8).

    Measured on the examples (docs/strategies.md): POS is the best sampler on the deep 3x3
    counter bug, PCT finds ordering bugs in a handful of executions where a uniform walk needs
    hundreds, and every member finds shallow races at once. Each member keeps its own state
    (PCT learns the run length) across the executions it is given.
    """

    name = "portfolio"

    def __init__(self, seed: int) -> None:
        pos = POSStrategy(seed)
        uniform = RandomStrategy(seed + 5)
        self.members: List[Strategy] = [
            # The cheap uniform walk first: a one-execution run (a marked test's smoke check)
            # should not pay for POS's per-point decisions.
            uniform, PCTStrategy(seed + 1, 5), pos, PCTStrategy(seed + 2, 3),
            pos, PCTStrategy(seed + 3, 5), pos, PCTStrategy(seed + 4, 2),
        ]
        self.index = -1
        self.active: Strategy = uniform

    def bind(self, view: object) -> None:
        bind = getattr(self.active, "bind", None)
        if bind is not None:
            bind(view)

    def new_execution(self) -> bool:
        self.index += 1
        self.active = self.members[self.index % len(self.members)]
        return self.active.new_execution()

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        return self.active.choose(runnable, current, used)

    def end_execution(self, outcome: object) -> None:
        self.active.end_execution(outcome)

    def describe(self) -> str:
        return "portfolio"

    def describe_active(self) -> str:
        """The member that ran the latest execution, e.g. ``portfolio[pct(depth=5)]``."""
        return f"portfolio[{self.active.describe()}]"
