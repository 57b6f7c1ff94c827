"""A scenario: the calls of one concurrent test, drawn from Hypothesis's choice sequence.

The draws come in the order that makes Hypothesis's shrinking useful: for each thread its
number of calls (toward 1, and toward 0 for threads after the second: left out), which
operation (toward the first) and its arguments (toward each strategy's simplest value); the
init part is drawn last so that it shrinks toward no init calls without disturbing the threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Tuple

from .operation import Operation

#: One call of a scenario: (index of the operation, its arguments).
Call = Tuple[int, Tuple[Any, ...]]


@dataclass(frozen=True)
class Scenario:
    """Init calls (run before the threads start), then one list of calls per thread."""

    init: Tuple[Call, ...]
    threads: Tuple[Tuple[Call, ...], ...]

    @property
    def shape(self) -> str:
        """``2 threads x 1 call`` (or ``x 1-3 calls``), plus the init calls if any."""
        sizes = sorted({len(t) for t in self.threads})
        per = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        calls = "call" if per == "1" else "calls"
        n = len(self.threads)
        text = f"{n} thread{'s' if n != 1 else ''} x {per} {calls}"
        if self.init:
            text += f", {len(self.init)} init call{'s' if len(self.init) != 1 else ''}"
        return text


def draw_scenario(data: Any, operations: Sequence[Operation], threads: int, ops_per_thread: int,
                  init: int) -> Scenario:
    """Draw one scenario from a Hypothesis ``st.data()`` object.

    Every thread is drawn as a number of calls then the calls. The first two threads have at
    least one call; the others may have none and are then left out, so that removing a thread is
    one choice going to zero (Hypothesis's favourite edit), which leaves the other threads' draws
    where they were.
    """
    from hypothesis import strategies as st

    columns = []
    for t in range(threads):
        lo = 1 if t < 2 else 0
        k = data.draw(st.integers(lo, ops_per_thread)) if ops_per_thread > lo else lo
        if k:
            columns.append(tuple(_draw_call(data, operations) for _ in range(k)))
    m = data.draw(st.integers(0, init)) if init > 0 else 0
    before = tuple(_draw_call(data, operations) for _ in range(m))
    return Scenario(before, tuple(columns))


def _draw_call(data: Any, operations: Sequence[Operation]) -> Call:
    from hypothesis import strategies as st

    i = data.draw(st.integers(0, len(operations) - 1)) if len(operations) > 1 else 0
    return i, tuple(data.draw(s) for s in operations[i].args)
