"""Lets the main thread finish its set-up before another strategy takes over."""

from __future__ import annotations

from typing import Any, List, Tuple

from .base import Strategy

_LONG = 1 << 30


class MainFirstStrategy(Strategy):
    """Thread 0 runs until it first cannot (it waits in ``join``, a lock, ...); then ``inner`` decides.

    A test body usually builds its state, starts N threads and joins them. Under a search that
    starts deciding at once, the threads started first run while the body is still starting
    the rest, so most of the search's randomness is spent on the start-up and the last thread
    started rarely meets the first ones at an interesting moment (a checker started after ten
    setters finds them all done). Letting the body run on until it waits puts every thread at
    its first line together, as a start barrier would: the inner strategy then samples the
    workers' interleavings only. Races between the body and its own threads are not explored
    here; the portfolio keeps members without this prelude for them.

    The runtime's fairness bound still applies: a body that spins instead of waiting is made to
    yield after a streak, which ends the prelude as waiting would.
    """

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.every_pick = inner.every_pick
        self.name = f"main-first {inner.name}"
        self.prelude = True

    def describe(self) -> str:
        return f"{self.inner.describe()} after set-up"

    def bind(self, view: Any) -> None:
        self.inner.bind(view)

    def new_execution(self) -> bool:
        self.prelude = True
        return self.inner.new_execution()

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        if self.prelude:
            if 0 in runnable:
                return 0, _LONG
            self.prelude = False
            # The prelude's picks were not the inner strategy's: it starts counting here.
            used = 0
        return self.inner.choose(runnable, current, used)

    def end_execution(self, outcome: Any) -> None:
        self.inner.end_execution(outcome)

    def close(self) -> None:
        self.inner.close()
