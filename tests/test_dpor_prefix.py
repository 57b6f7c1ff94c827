"""DPOR's replayed prefix: what the analysis knows after it must be this execution's truth.

Every execution replays the prefix it shares with the previous one, and DPOR does not look for
those events' races again (their clocks are kept; docs/dpor.md, "Replay"). The events after the
prefix race with the prefix's events through what the analysis holds at the branch point: which
event last wrote or read each location. If that were stale (locations naming the previous execution's
objects, entries missing, or entries of events that are no longer on the path), races would be
missed and outcomes with them. These programs make the later branches depend on accesses in the
shared prefix, to objects the execution itself creates, and compare DPOR's outcomes with
exhaustive search's.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable, List, Tuple

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import dpor_programs as P  # noqa: E402

from interleave.strategies.dpor import DporStrategy  # noqa: E402
from interleave.strategies.exhaustive import ExhaustiveStrategy  # noqa: E402


class Box:
    """A shared cell."""

    def __init__(self, v: int = 0) -> None:
        self.v = v


def handoff() -> Tuple[Callable[[], None], List[Any]]:
    """A thread creates an object and publishes it; the body finds it (or not) and uses it."""
    record: List[Any] = []

    def body() -> None:
        reg: dict = {}

        def maker() -> None:
            b = Box(1)
            reg["box"] = b
            b.v = 2

        t = threading.Thread(target=maker)
        t.start()
        b = reg.get("box")
        if b is not None:
            b.v += 10
        t.join()
        record.append((reg["box"].v, b is None))

    return body, record


def chain() -> Tuple[Callable[[], None], List[Any]]:
    """Thread a writes p then q; thread b writes q from what it read of p; the body reads q."""
    record: List[Any] = []

    def body() -> None:
        p, q = Box(0), Box(0)

        def a() -> None:
            p.v = 1
            q.v = 1

        def b() -> None:
            q.v = p.v + 2

        t1, t2 = threading.Thread(target=a), threading.Thread(target=b)
        t1.start()
        t2.start()
        r = q.v
        t1.join()
        t2.join()
        record.append((q.v, r))

    return body, record


def chain_made() -> Tuple[Callable[[], None], List[Any]]:
    """``chain`` where thread a creates the object it publishes (a new object in every execution)."""
    record: List[Any] = []

    def body() -> None:
        reg: dict = {}
        q = Box(0)

        def a() -> None:
            reg["p"] = Box(1)
            q.v = 1

        def b() -> None:
            x = reg.get("p")
            q.v = (0 if x is None else x.v) + 2

        t1, t2 = threading.Thread(target=a), threading.Thread(target=b)
        t1.start()
        t2.start()
        r = q.v
        t1.join()
        t2.join()
        record.append((q.v, r))

    return body, record


# (final q, what the body read). q ends 1 if a's write is last, else b's: 2 if b read p before a
# wrote it, 3 after; the body reads 0, a's 1, or b's value, whichever write came before its read.
CHAIN = frozenset(("passed", x) for x in [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (3, 0),
                                          (3, 1), (3, 3)])

STRATEGIES = {
    "depth-first": lambda: DporStrategy(),
    "seeded": lambda: DporStrategy(order_seed=0),
    "reads-first": lambda: DporStrategy(prefer_reads=True),
}


@pytest.mark.parametrize("order", sorted(STRATEGIES))
def test_an_object_made_in_the_prefix_is_the_same_location_after_it(order: str) -> None:
    body, record = handoff()
    truth, n_exh, finished = P.outcomes(body, record, ExhaustiveStrategy(), 5_000)
    assert finished and len(truth) == 4
    got, _, done = P.outcomes(body, record, STRATEGIES[order](), 5_000)
    assert done and got == truth


@pytest.mark.parametrize("order", sorted(STRATEGIES))
@pytest.mark.parametrize("program", [chain, chain_made])
def test_later_branches_race_with_the_prefix(program: Callable[[], Any], order: str) -> None:
    # Some of these outcomes need a race between an event of the shared prefix and one after the
    # branch point, which only what the analysis holds for the prefix shows: an analysis that
    # lost (or kept stale) the prefix's locations misses them.
    body, record = program()
    got, _, done = P.outcomes(body, record, STRATEGIES[order](), 5_000)
    assert done and got == CHAIN, sorted(CHAIN - got)
    # The expected set against the ground truth, as far as exhaustive search gets cheaply.
    reached, _, _ = P.outcomes(body, record, ExhaustiveStrategy(), 1_500)
    assert reached <= CHAIN
