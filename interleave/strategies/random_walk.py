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

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        r = len(runnable)
        if r == 1:
            return runnable[0], 1
        rng = self.rng
        tid = runnable[int(rng.random() * r)]
        u = rng.random()
        # P(run >= k+1) = (1/r)^k
        length = 1 + int(math.log(1.0 - u) / -math.log(r)) if u > 0 else 1
        return tid, length
