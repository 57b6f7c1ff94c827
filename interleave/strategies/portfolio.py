"""The default: rotate strategies so that shallow, ordering and deep bugs all fall quickly."""

from __future__ import annotations

from typing import List, Tuple

from .base import Strategy
from .main_first import MainFirstStrategy
from .pct import PCTStrategy
from .pos import POSStrategy
from .random_walk import RandomStrategy


class PortfolioStrategy(Strategy):
    """Executions cycle through ten slots: uniform random (5), POS (3) and PCT at depths 3 and 5.

    Most slots let the body finish starting its threads first (``MainFirstStrategy``): measured
    on the corpus (docs/strategies.md) that alone takes uniform random from never to a median of
    5 executions on reorder_10, and from 948 to 160 on the 3x3 counter. Uniform random is the
    best sampler for deadlocks and the deep counter; POS for torn reads and staged publication;
    PCT for a race after a long one-thread prefix and for orders among many threads. One POS
    slot keeps the body's own start-up in the search, for races between the body and the
    threads it starts. Each member
    keeps its own state (PCT learns the run length) across the executions it is given.
    """

    name = "portfolio"

    def __init__(self, seed: int) -> None:
        uniform = MainFirstStrategy(RandomStrategy(seed + 5))
        pos = MainFirstStrategy(POSStrategy(seed))
        self.members: List[Strategy] = [
            # The cheap uniform walk first: a one-execution run (a marked test's smoke check)
            # should not pay for POS's per-point decisions.
            uniform, pos, uniform, MainFirstStrategy(PCTStrategy(seed + 1, 3)), uniform,
            pos, uniform, POSStrategy(seed + 6), uniform, MainFirstStrategy(PCTStrategy(seed + 2, 5)),
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
