"""PCT whose priority change points fall only before racing accesses, learned across executions."""

from __future__ import annotations

import random
from types import CodeType
from typing import TYPE_CHECKING, Any, Dict, Hashable, List, Optional, Set, Tuple

from .base import Strategy
from .pct import PCTStrategy, change_points
from .pos import instruction_key


class RaceKeys:
    """Which location keys more than one thread has accessed, over the executions seen so far.

    Locations are keyed as POS keys them (attribute, global and cell names, subscripts) plus
    synchronisation operations by kind and type: a name-level over-approximation of "same
    location", stable across executions (object ids are not). Several strategies may share one
    instance, so that what one execution shows benefits the next, whoever runs it.
    """

    def __init__(self) -> None:
        self._keys: Dict[Tuple[CodeType, int], Optional[Hashable]] = {}
        self.users: Dict[Hashable, Set[int]] = {}
        self.racing: Set[Hashable] = set()
        self.view: Any = None

    def key(self, tid: int) -> Optional[Hashable]:
        """The location key of the operation thread ``tid`` runs next (None: local or unknown)."""
        pending = self.view.pending(tid) if self.view is not None else None
        if pending is None:
            return None
        code, offset, op = pending.code, pending.offset, pending.op
        if code is None:
            return ("sync", op.kind.value, type(op.target).__name__) if op is not None else None
        return instruction_key(self._keys, code, offset)

    def observe(self, tid: int) -> Optional[Hashable]:
        """Record that ``tid`` is about to run its pending operation; return its key if racing."""
        key = self.key(tid)
        if key is None:
            return None
        users = self.users.get(key)
        if users is None:
            users = self.users[key] = set()
        if tid not in users:
            users.add(tid)
            if len(users) == 2:
                self.racing.add(key)
        return key if key in self.racing else None


class RacePCTStrategy(Strategy):
    """Random thread priorities plus ``depth - 1`` change points, each placed just before an
    access to a location that more than one thread touched in earlier executions.

    PCT places its change points uniformly over every step of an execution, so a bug that needs
    a switch at one particular access among k steps is found with probability about 1/k per
    change point: a race after a long thread-local prefix, or the several precise preemptions
    of the 3x3 counter, need hundreds of executions. Only accesses to shared locations take
    part in races, and there are far fewer of them: counting only those steps (a racing point
    is an access whose key another thread also used, see ``RaceKeys``) raises the odds by the
    ratio of all steps to racing ones. A wrongly racing point (the keys over-approximate) only
    dilutes the odds. Until some execution has shown a racing key there are no change points:
    the first execution is a plain priority run that teaches the keys.
    """

    name = "pct-races"

    @classmethod
    def from_options(cls, seed: int) -> RacePCTStrategy:  # type: ignore[override]
        """``strategy="pct-races"``, at depth 5: the best single depth on the corpus
        (docs/strategies.md). Not a parameter yet: ``depth`` errors name the one strategy that
        takes it (the plugin's tests say so)."""
        return cls(seed, 5)

    def __init__(self, seed: int, depth: int = 3, keys: Optional[RaceKeys] = None) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be >= 1")
        self.rng = random.Random(seed)
        self.d = depth
        self.keys = keys if keys is not None else RaceKeys()
        self.k = 0  # racing points in the longest execution so far
        self.count = 0

    def describe(self) -> str:
        return f"pct-races(depth={self.d})"

    def bind(self, view: Any) -> None:
        self.keys.view = view

    def new_execution(self) -> bool:
        self.prio: Dict[int, float] = {}
        self.count = 0
        k = self.k
        self.changes = change_points(self.rng, self.d, k) if k else []
        self.next_change = 0
        return True

    if TYPE_CHECKING:
        def _priority(self, tid: int) -> float: ...
    else:
        _priority = PCTStrategy._priority  # the same initial ranks as PCT: above the d - 1 low ones

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        best = max(runnable, key=self._priority)
        if self.keys.observe(best) is not None:
            self.count += 1
            changes = self.changes
            while self.next_change < len(changes) and self.count >= changes[self.next_change]:
                # Change point i: the thread about to make this racing access drops to priority
                # d - 1 - i, so that another thread may go first.
                self.prio[best] = self.d - 1 - self.next_change
                self.next_change += 1
                best = max(runnable, key=self._priority)
                self.keys.observe(best)
        # One pick at a time: every access must be seen to be counted.
        return best, 1

    def end_execution(self, outcome: object) -> None:
        if self.count > self.k:
            self.k = self.count


class KeyObserver(Strategy):
    """Runs ``inner`` unchanged and shows each pick's operation to a shared ``RaceKeys``.

    For strategies that are asked at every pick anyway (rounds of single picks), so that their
    executions teach the racing keys to a ``RacePCTStrategy`` that runs later.
    """

    def __init__(self, inner: Strategy, keys: RaceKeys) -> None:
        self.inner = inner
        self.keys = keys
        self.every_pick = inner.every_pick
        self.name = inner.name

    def describe(self) -> str:
        return self.inner.describe()

    def bind(self, view: Any) -> None:
        self.keys.view = view
        self.inner.bind(view)

    def new_execution(self) -> bool:
        return self.inner.new_execution()

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        tid, n = self.inner.choose(runnable, current, used)
        self.keys.observe(tid)
        return tid, n

    def end_execution(self, outcome: Any) -> None:
        self.inner.end_execution(outcome)

    def close(self) -> None:
        self.inner.close()
