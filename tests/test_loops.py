"""The loop countdown both back-ends share: its states, and callbacks that count on its cells."""

from __future__ import annotations

from types import CodeType, SimpleNamespace
from typing import Any, List, Tuple

import pytest

from interleave.instrument.loops import Countdown

CODE = (lambda: None).__code__


class FakeExecution:
    def __init__(self, max_steps: int, steps: int) -> None:
        self.max_steps = max_steps
        self.steps = steps
        self.internal_error: Any = None
        self.calls: List[Tuple[str, Any]] = []

    def solo_expired(self) -> None:
        self.calls.append(("solo_expired", None))

    def loop_limit(self, code: CodeType, offset: int) -> None:
        self.calls.append(("loop_limit", offset))


def make(loop_budget: int = 5) -> Tuple[Countdown, Any]:
    backend: Any = SimpleNamespace(context=SimpleNamespace(active=None), loop_budget=loop_budget)
    countdown = Countdown(backend)
    countdown.begin()
    return countdown, backend


def counter(countdown: Countdown) -> Any:
    """A per-iteration callback written the way the back-ends write theirs."""
    expired = countdown.expired
    left = 0

    def tick(offset: int) -> None:
        nonlocal left
        left -= 1
        if not left:
            expired(CODE, offset)

    return countdown.share(tick)


def test_loop_budget_runs_out_at_loop_limit_and_every_later_iteration_ticks() -> None:
    countdown, backend = make(loop_budget=3)
    ex = FakeExecution(max_steps=100, steps=0)
    backend.context.active = ex
    tick = counter(countdown)
    for offset in range(5):
        tick(offset)
    # The third iteration spends the budget; from then on each one reaches the runtime.
    assert ex.calls == [("loop_limit", 2), ("loop_limit", 3), ("loop_limit", 4)]


def test_no_execution_gives_the_budget_back() -> None:
    countdown, backend = make(loop_budget=2)
    tick = counter(countdown)
    for offset in range(6):
        tick(offset)  # between executions: never reaches a runtime, never stops counting
    ex = FakeExecution(max_steps=100, steps=0)
    backend.context.active = ex
    tick(10)
    tick(11)
    assert ex.calls == [("loop_limit", 11)]


def test_a_solo_phase_counts_its_own_steps_and_puts_the_loop_budget_back() -> None:
    countdown, backend = make(loop_budget=10)
    ex = FakeExecution(max_steps=50, steps=46)
    backend.context.active = ex
    tick = counter(countdown)
    tick(0)
    tick(1)  # 8 of the loop budget left
    countdown.start_counting(ex)  # 4 steps of room
    tick(2)
    tick(3)
    assert countdown.solo_steps() == 2
    assert countdown.end_solo() == 2
    assert countdown.solo_steps() == 0
    for offset in range(7):
        tick(offset)
    assert ex.calls == []
    tick(99)
    assert ex.calls == [("loop_limit", 99)]


def test_a_solo_phase_that_uses_its_room_ends_the_phase_not_the_run() -> None:
    countdown, backend = make()
    ex = FakeExecution(max_steps=50, steps=48)
    backend.context.active = ex
    tick = counter(countdown)
    countdown.start_counting(ex)
    tick(0)
    tick(1)
    assert ex.calls == [("solo_expired", None)]
    ex.internal_error = KeyboardInterrupt()  # interrupted: the loop limit stops it instead
    countdown.start_counting(ex)
    tick(2)
    tick(3)
    assert ex.calls[1:] == [("loop_limit", 3)]


def test_hurry_makes_the_next_iteration_check() -> None:
    countdown, backend = make(loop_budget=1_000)
    ex = FakeExecution(max_steps=100, steps=0)
    backend.context.active = ex
    tick = counter(countdown)
    tick(0)
    countdown.hurry()
    tick(1)
    assert ex.calls == [("loop_limit", 1)]


def test_a_factory_passes_the_shared_cells_on() -> None:
    countdown, backend = make(loop_budget=100)
    ex = FakeExecution(max_steps=100, steps=90)
    backend.context.active = ex
    room = left = 0

    def make_tick() -> Any:
        def tick() -> int:
            nonlocal left
            left -= 1
            return room

        return tick

    tick = countdown.share(make_tick)()
    countdown.start_counting(ex)
    assert tick() == 10  # reads the countdown's room, not the local above
    tick()
    assert countdown.solo_steps() == 2
    assert (room, left) == (0, 0)


def test_sharing_a_function_that_names_no_count_is_refused() -> None:
    countdown, _ = make()
    with pytest.raises(TypeError, match="nothing to share"):
        countdown.share(lambda: None)
