"""Uniform random choice at every switch point, drawn one run at a time."""

from __future__ import annotations

import random
from math import log
from typing import List, Tuple

from .base import Strategy

# log(1/r) for r runnable threads: the geometric draw's denominator without the ``bursts``
# stay probability, computed once (the same float ``math.log(1.0 / r)`` gives at every pick).
_LOG_STAY = tuple(log(1.0 / r) if r > 1 else 0.0 for r in range(64))


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
        draw = self.rng.random
        tid = runnable[int(draw() * r)]
        u = draw()
        # P(run >= k+1) = stay^k: one geometric draw instead of a draw per point.
        if not self.bursts:
            log_stay = _LOG_STAY[r] if r < 64 else log(1.0 / r)  # stay = 1/r
        elif self.stay > 0:
            log_stay = log(self.stay)
        else:
            return tid, 1
        return tid, (1 + int(log(1.0 - u) / log_stay) if u > 0 else 1)
