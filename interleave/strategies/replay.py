"""Replays a recorded schedule and reports divergence instead of improvising."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from .base import Divergence, Strategy


class ReplayStrategy(Strategy):
    """Follows a list of runs ``(thread id, picks)`` exactly."""

    name = "replay"

    def __init__(self, runs: Sequence[Tuple[int, int]], sees_lone_points: bool = False) -> None:
        self.sees_lone_points = sees_lone_points  # as the schedule was recorded
        self.runs = [(int(t), int(n)) for t, n in runs]
        self.index = 0
        self.left = 0
        self.tid: Optional[int] = None
        self.first = True

    def new_execution(self) -> bool:
        self.index = 0
        self.left = 0
        self.tid = None
        self.first = True
        return True

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        if self.first:
            # The execution's opening grant (thread 0, one pick) is given by the runtime.
            self.first = False
            self.tid, self.left = self.runs[0] if self.runs else (0, 1)
            self.index = 1
        self.left -= used
        while self.left <= 0:
            if self.index >= len(self.runs):
                raise Divergence(
                    f"the schedule ended after {self.index} runs but the program kept going "
                    f"(threads {runnable} could still run)"
                )
            self.tid, self.left = self.runs[self.index]
            self.index += 1
        if self.tid not in runnable:
            raise Divergence(
                f"run {self.index}: the schedule says thread {self.tid} runs next, "
                f"but only threads {runnable} can run"
            )
        return self.tid, self.left
