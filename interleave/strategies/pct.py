"""Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010)."""

from __future__ import annotations

import random
from typing import Dict, List, Tuple

from .base import Strategy

_LONG = 1 << 30
_YIELD_STREAK = 1000  # the runtime's fairness bound: a thread that ran this long was made to yield


def change_points(rng: random.Random, d: int, k: int) -> List[int]:
    """PCT's d - 1 priority change points, drawn uniformly among steps 1..k, in order."""
    return sorted(rng.sample(range(1, k + 1), min(d - 1, k)))


class PCTStrategy(Strategy):
    """Random thread priorities plus d-1 priority change points over the expected run length.

    A bug of depth d (d ordering constraints) is found in one execution with probability at
    least 1/(n * k^(d-1)) for n threads and k steps. The highest-priority runnable thread
    always runs, so between change points a thread keeps a long grant: the points in between
    cost a counter decrement. k is learned: the longest execution seen so far.
    """

    name = "pct"

    def __init__(self, seed: int, depth: int = 3) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be >= 1")
        self.rng = random.Random(seed)
        self.d = depth
        self.k = 64  # expected steps; replaced by what executions show
        self.changes: List[int] = []

    def describe(self) -> str:
        return f"pct(depth={self.d})"

    def new_execution(self) -> bool:
        rng = self.rng
        self.prio: Dict[int, float] = {}
        self.step = 0
        self.streak = 0
        self.contended = False
        self.changes = change_points(rng, self.d, self.k)
        self.next_change = 0
        return True

    def _priority(self, tid: int) -> float:
        p = self.prio.get(tid)
        if p is None:
            # A uniformly random rank among the initial priorities, all above the d-1 low ones.
            p = self.prio[tid] = self.d + self.rng.random()
        return p

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        # Only picks with a real choice count as steps: change points placed where a single
        # thread can run would be wasted, and k would overstate the program's depth budget.
        if self.contended:
            self.step += used
        self.contended = len(runnable) > 1
        self.streak += used
        changes = self.changes
        while self.next_change < len(changes) and self.step >= changes[self.next_change]:
            # Change point i: the thread that just ran drops to priority d - 1 - i.
            self.prio[current] = self.d - 1 - self.next_change
            self.next_change += 1
        if current not in runnable and self.streak >= _YIELD_STREAK and current in self.prio:
            self.prio[current] = -self.step  # made to yield: it goes below everyone
        best = max(runnable, key=self._priority)
        if best != current:
            self.streak = 0
        if self.next_change < len(changes) and self.contended:
            return best, max(1, changes[self.next_change] - self.step)
        if self.next_change < len(changes):
            return best, 1  # alone: come back at the next point to see if others can run
        return best, _LONG

    def end_execution(self, outcome: object) -> None:
        if self.step > self.k:
            self.k = self.step
