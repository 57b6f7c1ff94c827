"""Random rounds: every runnable thread takes a short turn, in a fresh random order each round."""

from __future__ import annotations

import random
from typing import List, Optional, Tuple

from .base import Strategy


class RoundsStrategy(Strategy):
    """Rounds of turns: each round a random permutation of the runnable threads, each thread a
    burst of 1 to ``burst`` picks in its turn (``burst=None``: per execution, 1 half the time,
    else 2, 4, 8 or 16, so that threads can also drift apart).

    Unlike a uniform walk, no thread can fall far behind or run far ahead: all threads advance
    almost in lockstep, with a random order inside each round. That is the shape of the bugs
    where every thread must be at the same stage at once (each philosopher holding its first
    fork; a checker reading between a setter's two writes while many setters compete), which
    a uniform walk reaches only when it happens to keep every thread's progress even. It is
    also the shape that misses bugs needing one thread to run far ahead (a long prefix) or to
    stall for long: other strategies cover those.
    """

    name = "rounds"

    def __init__(self, seed: int, burst: Optional[int] = None) -> None:
        if burst is not None and burst < 1:
            raise ValueError("rounds burst must be >= 1")
        self.rng = random.Random(seed)
        self.fixed = burst
        self.burst = burst or 1
        self.queue: List[int] = []

    def describe(self) -> str:
        if self.fixed is None:
            return "rounds"
        return "rounds(burst=1)" if self.fixed == 1 else f"rounds(burst<={self.fixed})"

    def new_execution(self) -> bool:
        self.queue = []
        if self.fixed is None:
            self.burst = 1 if self.rng.random() < 0.5 else 1 << (1 + int(self.rng.random() * 4))
        return True

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        if len(runnable) == 1:
            return runnable[0], 1
        queue = self.queue
        # Threads that blocked or ended since the round began lose their turn; threads started
        # or woken since then join the next round.
        while queue and queue[-1] not in runnable:
            queue.pop()
        if not queue:
            queue.extend(runnable)
            self.rng.shuffle(queue)
        tid = queue.pop()
        burst = self.burst
        return tid, 1 if burst == 1 else 1 + int(self.rng.random() * burst)
