"""Uniform random choice at every switch point, drawn one run at a time."""

from __future__ import annotations

import math
import random
from typing import List, Tuple

from .base import Strategy


class RandomStrategy(Strategy):
    """At each switch point every runnable thread is equally likely to run next.

    Staying on the current thread for k more points has probability (1/r)^k, so one
    geometric draw per run replaces a draw per point; the points in between cost a
    counter decrement.
    """

    name = "random"

    def __init__(self, seed: int, bursts: bool = False) -> None:
        self.rng = random.Random(seed)
        self.bursts = bursts
        self.stay = 0.0  # with bursts: the chance to stay on the running thread at a point

    def describe(self) -> str:
        return "random(bursts)" if self.bursts else "random"

    def new_execution(self) -> bool:
        if self.bursts:
            # Mean run length 2^U(0,6): some executions switch often, some rarely, which
            # reaches bugs that need a long undisturbed stretch of one thread.
            self.stay = 1.0 - 1.0 / (2.0 ** (self.rng.random() * 6.0))
        return True

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        r = len(runnable)
        if r == 1:
            return runnable[0], 1
        rng = self.rng
        tid = runnable[int(rng.random() * r)]
        stay = self.stay if self.bursts else 1.0 / r
        u = rng.random()
        # P(run >= k+1) = stay^k: one geometric draw instead of a draw per point.
        length = 1 + int(math.log(1.0 - u) / math.log(stay)) if u > 0 and stay > 0 else 1
        return tid, length
