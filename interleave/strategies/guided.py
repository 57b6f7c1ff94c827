"""Follows a schedule where it can and completes it without preemptions where it cannot."""

from __future__ import annotations

from typing import List, Sequence, Tuple

from .base import Strategy


class GuidedStrategy(Strategy):
    """Lenient replay: used by shrinking to try edited schedules."""

    name = "guided"

    def __init__(self, runs: Sequence[Tuple[int, int]], sees_lone_points: bool = False) -> None:
        self.sees_lone_points = sees_lone_points  # as the schedule was recorded
        self.runs = list(runs)

    def new_execution(self) -> bool:
        self.index = 1
        self.tid, self.left = self.runs[0] if self.runs else (0, 1)
        return True

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        self.left -= used
        while self.left <= 0 and self.index < len(self.runs):
            self.tid, self.left = self.runs[self.index]
            self.index += 1
        if self.left > 0 and self.tid in runnable:
            return self.tid, self.left
        # Off the script: never preempt; keep the current thread, else the lowest runnable.
        self.left = 0
        self.index = len(self.runs)
        tid = current if current in runnable else runnable[0]
        return tid, 1 << 30
