"""The default: a mix of strategies so that shallow, ordering and deep bugs all fall quickly."""

from __future__ import annotations

from typing import List, Optional, Tuple

from .base import Strategy
from .main_first import MainFirstStrategy
from .pos import POSStrategy
from .race_pct import KeyObserver, RaceKeys, RacePCTStrategy
from .random_walk import RandomStrategy
from .rounds import RoundsStrategy

#: Executions in the first phase: after this many without a failure the mix turns to the
#: members that do best on deep bugs.
QUICK_PHASE = 60

_Slot = Tuple[Strategy, Optional[int]]  # a member, and the depth it runs with (race PCT only)


class PortfolioStrategy(Strategy):
    """Executions go through a cycle of slots, each run by one member; two phases.

    Members (docs/strategies.md has the measurements): rounds of single picks (lockstep
    orders: deadlocks needing every thread at the same stage, a checker between a setter's
    writes), uniform random (deep bugs, the 3x3 counter), POS (torn reads, publication), and
    PCT with change points at racing accesses (a race after a long prefix, staged
    publication; at depth 9, the 3x3 counter). All but one POS slot let the body finish
    starting its threads first (``MainFirstStrategy``); the plain POS slot keeps races between
    the body and its own threads in the search.

    The first ``QUICK_PHASE`` executions cycle through every member. A bug that one of them
    finds with a high chance per execution falls there; one that has not fallen by then is
    most likely of a class only uniform random and deep race-PCT find at a useful rate, so the
    second phase gives them most slots (keeping POS and a shallower race-PCT in the cycle).
    The rounds member teaches the racing keys to race-PCT from the first execution on. Each
    member keeps its own state (race-PCT learns the keys and the run length) across phases.
    """

    name = "portfolio"

    def __init__(self, seed: int) -> None:
        keys = RaceKeys()
        rounds = MainFirstStrategy(KeyObserver(RoundsStrategy(seed + 7, burst=1), keys))
        uniform = MainFirstStrategy(RandomStrategy(seed + 5))
        pos = MainFirstStrategy(POSStrategy(seed))
        self.races = RacePCTStrategy(seed + 1, 5, keys)
        races = MainFirstStrategy(self.races)
        plain_pos = POSStrategy(seed + 6)
        # Rounds first: one execution finds the lockstep bugs, and it is cheap (a marked test's
        # one-execution smoke check should not pay for POS's per-point decisions).
        self.quick: List[_Slot] = [
            (rounds, None), (uniform, None), (pos, None), (races, 5), (rounds, None),
            (races, 9), (uniform, None), (races, 3), (plain_pos, None), (races, 9),
        ]
        self.deep: List[_Slot] = [
            (races, 9), (uniform, None), (races, 9), (uniform, None), (races, 9),
            (pos, None), (races, 9), (uniform, None), (races, 9), (races, 5),
        ]
        self.index = -1
        self.active: Strategy = rounds

    def bind(self, view: object) -> None:
        self.active.bind(view)

    def new_execution(self) -> bool:
        self.index += 1
        i = self.index
        slots = self.quick if i < QUICK_PHASE else self.deep
        member, depth = slots[(i if i < QUICK_PHASE else i - QUICK_PHASE) % len(slots)]
        if depth is not None:
            self.races.d = depth
        self.active = member
        return member.new_execution()

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        return self.active.choose(runnable, current, used)

    def end_execution(self, outcome: object) -> None:
        self.active.end_execution(outcome)

    def close(self) -> None:
        for member in {id(m): m for m, _ in self.quick + self.deep}.values():
            member.close()

    def describe(self) -> str:
        return "portfolio"

    def describe_active(self) -> str:
        """The member that ran the latest execution, e.g. ``portfolio[pct-races(depth=5)]``."""
        return f"portfolio[{self.active.describe()}]"
