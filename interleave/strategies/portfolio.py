"""The default: a mix of strategies so that shallow, ordering and deep bugs all fall quickly."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from .base import Divergence, Strategy
from .dpor import DporStrategy
from .main_first import MainFirstStrategy
from .pos import POSStrategy
from .race_pct import KeyObserver, RaceKeys, RacePCTStrategy
from .random_walk import RandomStrategy
from .rounds import RoundsStrategy

#: Executions in the first phase: after this many without a failure the mix turns to the
#: members that do best on deep bugs.
QUICK_PHASE = 60

_LONG = 1 << 30
#: Switch points DPOR's first execution may trace while the body is still alone (before the
#: portfolio knows whether it starts threads at all). A body that runs longer alone finishes
#: that execution untraced, and DPOR starts over on the next one if the body turns out threaded:
#: a body without threads, or with a long set-up, never has its lone loops traced instruction by
#: instruction (the solo guarantee, tests/test_solo.py).
LONE_POINTS = 1000

_Slot = Tuple[Strategy, Optional[int]]  # a member, and the depth it runs with (race PCT only)


class PortfolioStrategy(Strategy):
    """Executions go through fixed slots, each run by one member: an opening, then two phases.

    Members (docs/strategies.md has the measurements): rounds of single picks (lockstep
    orders: deadlocks needing every thread at the same stage, a checker between a setter's
    writes), DPOR (one race reversed per execution: a race after a long prefix, the small
    classics), uniform random (deep bugs, the 3x3 counter), POS (torn reads, publication), and
    PCT with change points at racing accesses (staged publication; at depth 9, the 3x3
    counter). All but the DPOR and one POS slot let the body finish starting its threads
    first (``MainFirstStrategy``); the plain POS slot keeps races between the body and its
    own threads in the search.

    The opening gives DPOR five of the first nine executions (a bug DPOR reaches at all on a
    small program, it reaches in its first few), between rounds, uniform and POS. DPOR opens:
    its first execution, which reverses no race yet, takes its new nodes in a rounds
    sampler's order and so is a rounds sample of its own, and its second reverses the race at
    the end of the first (a race after a long thread-local prefix). Up to
    ``QUICK_PHASE`` executions the rest cycle through every sampler. A bug that one of them
    finds with a high chance per execution falls there; one that has not fallen by then is
    most likely of a class only uniform random and deep race-PCT find at a useful rate, so the
    second phase gives them most slots (keeping POS and a shallower race-PCT in the cycle).
    The rounds member teaches the racing keys to race-PCT from the first execution on. Each
    member keeps its own state (race-PCT learns the keys and the run length, DPOR its search
    tree) across phases.

    DPOR is a member like the others but for two things: it sees every switch point (the
    portfolio reports ``every_pick``/``sees_lone_points`` of the member chosen for the
    execution, which the runtime reads when it builds it), and it can run out, by covering its
    tree or by meeting a program that does not repeat itself under the same schedule
    (``random`` is reseeded per execution): its slots then go to the other members. Its
    exhaustion is no proof here (the portfolio is never ``bounded``).
    """

    name = "portfolio"
    #: The first executions, in this order, by member name (see ``_build``; "racesN" is race PCT at depth N);
    #: then the first phase cycles through ``QUICK`` and the second through ``DEEP``. DPOR
    #: takes five of the first nine, the first two among them: the small classics fall in its
    #: second to fifth execution (docs/strategies.md, section 5, has the layouts measured).
    OPENING: Sequence[str] = ("dpor", "dpor", "rounds", "dpor", "uniform", "pos", "dpor", "dpor", "rounds")
    QUICK: Sequence[str] = ("rounds", "uniform", "pos", "races5", "rounds", "races9", "uniform", "races3",
                            "plain_pos", "races9")
    DEEP: Sequence[str] = ("races9", "uniform", "races9", "uniform", "races9", "pos", "races9", "uniform",
                           "races9", "races5")
    #: Who takes a DPOR slot once DPOR has run out, in turn.
    AFTER_DPOR: Sequence[str] = ("uniform", "races9", "pos", "races5")

    def __init__(self, seed: int) -> None:
        # Deepest first, unseeded: the races of the first execution's end are reversed first
        # (those a read observes before those of two writes), which is where a race after a long
        # thread-local prefix sits (found in DPOR's second execution; with ``order_seed``, in its
        # third for 4 of 5 seeds: docs/strategies.md).
        self.seed = seed
        self.keys = RaceKeys()  # what rounds has seen race, taught to race-PCT
        self.dpor = self._new_dpor()
        # Members are built when a slot first needs them (seeding a generator costs several
        # microseconds, and a short exploration meets a few members only); each has a
        # generator of its own, so when it is built does not change what it does.
        self.members: Dict[str, Strategy] = {"dpor": self.dpor}
        self.opening: List[str] = list(self.OPENING)
        self.quick: List[str] = list(self.QUICK)
        self.deep: List[str] = list(self.DEEP)
        self.after_dpor: List[str] = list(self.AFTER_DPOR)
        self.index = -1
        self.active: Strategy = self._slot((self.opening or self.quick)[0])[0]
        self.dpor_out = False  # DPOR covered its tree, or the program diverged under it
        self.replaced = 0  # DPOR slots given to others so far
        self.fallback = False  # DPOR gave up in the middle of this execution
        self.threaded = False  # an execution so far ran a thread besides the body's

    @property
    def every_pick(self) -> bool:  # type: ignore[override]
        """As the member running this execution asks (read when the runtime builds it)."""
        return self.active.every_pick

    @property
    def sees_lone_points(self) -> bool:  # type: ignore[override]
        """As the member running this execution asks: DPOR records a lone thread's points."""
        return self.active.sees_lone_points

    def bind(self, view: object) -> None:
        self.active.bind(view)

    def expect(self, executions: int) -> None:
        """A single execution is the DPOR member's first execution without DPOR's tracing.

        That execution is a rounds sample anyway (``_new_dpor``); traced, it would cost a
        one-execution exploration (a marked test with ``executions=1``) a DPOR tree it never uses.
        """
        if executions == 1 and self.opening and self.opening[0] == "dpor":
            self.opening[0] = "first"

    def use_timeouts(self, timeouts: str) -> None:
        """Under ``timeouts="when-stuck"`` the DPOR member sits out (it refuses them): its slots go to the others."""
        if timeouts == "when-stuck":
            self.dpor_out = True

    def new_execution(self) -> bool:
        self.index += 1
        self.fallback = False
        i = self.index
        opening = len(self.opening)
        if i < opening:
            member, depth = self._slot(self.opening[i])
        elif i < QUICK_PHASE:
            member, depth = self._slot(self.quick[(i - opening) % len(self.quick)])
        else:
            member, depth = self._slot(self.deep[(i - QUICK_PHASE) % len(self.deep)])
        if member is self.dpor and (self.dpor_out or self.dpor.exhausted() or (i and not self.threaded)):
            # Until a second thread has run there is no race to reverse, and a DPOR execution
            # would trace a lone thread's every instruction for nothing (the first execution
            # is DPOR's whatever the body: nothing has run yet to say whether it has threads).
            if self.threaded:
                self.dpor_out = True  # for good: covered, or the program diverged under it
            member, depth = self._slot(self.after_dpor[self.replaced % len(self.after_dpor)])
            self.replaced += 1
        if depth is not None:
            self.races.d = depth
        self.active = member
        return member.new_execution()

    def _slot(self, name: str) -> _Slot:
        """The member a slot names, built if it is the first to need it, and its depth (race PCT)."""
        if name.startswith("races"):
            return self._member("races"), int(name[len("races"):])
        return self._member(name), None

    def _member(self, name: str) -> Strategy:
        member = self.members.get(name)
        if member is None:
            member = self.members[name] = self._build(name)
        return member

    def _build(self, name: str) -> Strategy:
        seed = self.seed
        if name == "rounds":
            return MainFirstStrategy(KeyObserver(RoundsStrategy(seed + 7, burst=1), self.keys))
        if name == "uniform":
            return MainFirstStrategy(RandomStrategy(seed + 5))
        if name == "pos":
            return MainFirstStrategy(POSStrategy(seed))
        if name == "plain_pos":
            return POSStrategy(seed + 6)
        if name == "races":
            self.races = RacePCTStrategy(seed + 1, 5, self.keys)
            return MainFirstStrategy(self.races)
        if name == "first":  # DPOR's first execution, as a sample of its own (see ``expect``)
            return self._first_order()
        raise KeyError(f"no portfolio member named {name!r}")

    def _new_dpor(self, lone_limit: Optional[int] = LONE_POINTS) -> DporStrategy:
        # Reversals that change what a read sees before those of two writes only (the same
        # classes, another order): reorder_3's setters race mostly write against write
        # (docs/strategies.md, section 7).
        dpor = DporStrategy(prefer_reads=True)
        # Its first execution in the order of a rounds sampler (the body first, then one pick
        # per thread and event in turn): as a sample it finds what rounds finds
        # (philosophers_5, reorder_3 a third of the time), so DPOR can open the portfolio.
        dpor.first_order = self._first_order()
        dpor.lone_limit = lone_limit
        return dpor

    def _first_order(self) -> Strategy:
        return MainFirstStrategy(RoundsStrategy(self.seed + 11, burst=1))

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        if self.active is not self.dpor:
            return self.active.choose(runnable, current, used)
        if not self.fallback:
            try:
                return self.dpor.choose(runnable, current, used)
            except Divergence:
                # The program took another path under DPOR's replayed prefix (it reads
                # ``random``, the clock, ids...): DPOR cannot search it, which alone is no failure
                # of the program. DPOR leaves the execution, which runs on without choices.
                self._retire_dpor()
        return (current if current in runnable else runnable[0]), _LONG

    def _retire_dpor(self) -> None:
        self.dpor_out = True
        self.fallback = True
        self.dpor.detach()

    def end_execution(self, outcome: object) -> None:
        if not self.threaded:
            self.threaded = any(tid for tid, _ in getattr(outcome, "runs", ()))
        if self.active is self.dpor and self.dpor.gave_up:
            # It left its first execution half-way (a long lone body): a new DPOR takes its slots.
            # Once the body is known to start threads, DPOR traces all of it (it must).
            self.dpor = self.members["dpor"] = self._new_dpor(None if self.threaded else LONE_POINTS)
        elif not self.fallback:
            self.active.end_execution(outcome)

    def close(self) -> None:
        for member in self.members.values():
            member.close()

    def describe(self) -> str:
        return "portfolio"

    def describe_active(self) -> str:
        """The member that ran the latest execution, e.g. ``portfolio[pct-races(depth=5)]``."""
        return f"portfolio[{self.active.describe()}]"
