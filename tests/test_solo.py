"""A thread that runs alone is not traced instruction by instruction, and nothing else changes."""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, Iterator

import pytest

import interleave
from interleave.runtime.execution import Execution

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


class Box:
    def __init__(self) -> None:
        self.n = 0


def bump(box: Box, times: int) -> None:
    for _ in range(times):
        box.n += 1


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, int]]:
    """How often the runtime hears of a switch point, alone or not."""
    seen = {"point": 0, "solo_visible": 0}

    def counting(name: str) -> Callable[..., Any]:
        real = getattr(Execution, name)

        def wrapper(self: Execution, *args: Any, **kw: Any) -> Any:
            seen[name] += 1
            return real(self, *args, **kw)

        return wrapper

    for name in seen:
        monkeypatch.setattr(Execution, name, counting(name))
    yield seen


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_lone_threads_loop_is_not_traced_per_instruction(backend: str, calls: Dict[str, int]) -> None:
    def body() -> None:
        box = Box()
        bump(box, 500)  # about 2,000 visible instructions, all while the body is alone
        assert box.n == 500

    r = interleave.explore(body, executions=3, seed=0, backend=backend, strategy="random")
    assert r.failure is None, r.failure.report
    assert calls["point"] <= 3, calls  # no decision to take after the first point
    # Heard of once per code object and execution (body, Box.__init__, bump), not per
    # instruction. (settrace on 3.12+ still traces them, see settrace.SILENCE, but drops them
    # at once.)
    assert calls["solo_visible"] <= 3 * 3, calls


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_default_traces_a_lone_body_for_a_bounded_number_of_points(backend: str,
                                                                       calls: Dict[str, int]) -> None:
    """The default's first execution is DPOR's, which sees every point: before it knows whether
    the body starts threads it traces at most ``LONE_POINTS`` of a lone body's, however long."""
    from interleave.strategies.portfolio import LONE_POINTS, PortfolioStrategy

    def body() -> None:
        box = Box()
        bump(box, 20_000)  # about 80,000 visible instructions, all while the body is alone
        assert box.n == 20_000

    p = PortfolioStrategy(0)
    r = interleave.explore(body, executions=3, seed=0, backend=backend, strategy=p)
    assert r.failure is None, r.failure.report
    # Then one point per fairness streak (a grant is at most FAIRNESS_STREAK points): about 80.
    assert calls["point"] <= LONE_POINTS + 200, calls
    assert calls["solo_visible"] <= 3 * 3, calls  # the later executions run it alone
    assert p.dpor.stats["executions"] == 0  # a new DPOR: the one that gave up is gone


def test_dpor_starts_over_when_a_long_lone_set_up_turns_out_threaded() -> None:
    """A body that runs long alone before it starts threads loses DPOR's first execution, not
    DPOR: a fresh one takes the later slots (and traces the set-up, as DPOR must)."""
    from interleave.strategies.portfolio import LONE_POINTS, PortfolioStrategy

    lock = threading.Lock()

    def locked_bump(box: Box) -> None:
        with lock:
            box.n += 1

    def body() -> None:
        box = Box()
        bump(box, LONE_POINTS)  # more lone points than DPOR's first execution traces
        ts = [threading.Thread(target=locked_bump, args=(box,)) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box.n == LONE_POINTS + 2

    p = PortfolioStrategy(0)
    first = p.dpor
    r = interleave.explore(body, executions=4, seed=0, strategy=p, shrink=False)
    assert r.failure is None and r.executions == 4
    assert first.gave_up and first.stats["executions"] == 0
    assert p.dpor is not first and not p.dpor.gave_up
    assert p.dpor.stats["executions"] >= 1  # the second execution is the new DPOR's first
