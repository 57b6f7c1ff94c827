"""Depth-first enumeration of every schedule with at most k preemptions (CHESS-style)."""

from __future__ import annotations

from typing import List, Optional, Tuple

from .base import Divergence, Strategy

_LONG = 1 << 30


class _Frame:
    """A pick where more than one choice was possible, on the current path."""

    __slots__ = ("pick", "alts", "idx", "preempts")

    def __init__(self, pick: int, alts: List[int], preempts: int) -> None:
        self.pick = pick
        self.alts = alts
        self.idx = 0
        self.preempts = preempts  # preemptions spent before this pick


class ExhaustiveStrategy(Strategy):
    """Runs each schedule within the preemption bound exactly once, then says so.

    Only the current path is kept (one frame per branching pick), so memory is proportional
    to one schedule's length. A switch away from a thread that could go on is a preemption;
    a choice after the current thread blocked or finished is free. Once the bound is spent the
    current thread gets a long grant, so the points until it blocks cost a counter decrement.
    """

    name = "exhaustive"
    bounded = True

    @classmethod
    def from_options(cls, seed: int, preemptions: Optional[int] = None) -> ExhaustiveStrategy:  # type: ignore[override]
        """``strategy="exhaustive"``: the seed plays no part in a depth-first enumeration."""
        return cls(preemptions)

    def __init__(self, preemptions: Optional[int] = None) -> None:
        self.k = preemptions
        self.stack: List[_Frame] = []
        self.done = False
        self.runs = 0

    @property
    def bound_description(self) -> str:
        if self.k is None:
            return "all interleavings, no preemption bound"
        return f"≤ {self.k} preemption{'s' if self.k != 1 else ''}"

    def describe(self) -> str:
        return "exhaustive" if self.k is None else f"exhaustive(preemptions={self.k})"

    def exhausted(self) -> bool:
        return self.done

    def new_execution(self) -> bool:
        if self.done:
            return False
        self.pos = 0
        self.pick = 0
        self.preempts = 0
        return True

    def _alternatives(self, runnable: List[int], current: int) -> List[int]:
        if current in runnable:
            if self.k is not None and self.preempts >= self.k:
                return [current]
            return [current] + [t for t in runnable if t != current]
        return list(runnable)

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        self.pick += used
        alts = self._alternatives(runnable, current)
        stack = self.stack
        if self.pos < len(stack) and stack[self.pos].pick == self.pick:
            fr = stack[self.pos]
            if fr.alts != alts:
                raise Divergence(
                    f"exhaustive search: pick {self.pick} offered threads {alts}, earlier {fr.alts}; "
                    "the program is not deterministic under a fixed schedule"
                )
            self.pos += 1
            tid = alts[fr.idx]
        else:
            if len(alts) > 1:
                if self.pos < len(stack):
                    raise Divergence(
                        f"exhaustive search: a choice appeared at pick {self.pick} that the replayed "
                        "prefix did not have; the program is not deterministic under a fixed schedule"
                    )
                stack.append(_Frame(self.pick, alts, self.preempts))
                self.pos += 1
            tid = alts[0]
        if tid != current and current in runnable:
            self.preempts += 1
        # With the bound spent, nothing can branch until this thread blocks or finishes.
        bound_spent = self.k is not None and self.preempts >= self.k
        return tid, (_LONG if bound_spent else 1)

    def end_execution(self, outcome: object) -> None:
        self.runs += 1
        stack = self.stack
        while stack and stack[-1].idx + 1 >= len(stack[-1].alts):
            stack.pop()
        if not stack:
            self.done = True
            return
        stack[-1].idx += 1
