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

    r = interleave.explore(body, executions=3, seed=0, backend=backend)
    assert r.failure is None, r.failure.report
    assert calls["point"] <= 3, calls  # no decision to take after the first point
    # Heard of once per code object and execution (body, Box.__init__, bump), not per
    # instruction. (settrace on 3.12+ still traces them, see settrace.SILENCE, but drops them
    # at once.)
    assert calls["solo_visible"] <= 3 * 3, calls


def bump_again(box: Box, times: int) -> None:
    # Not ``bump``: on 3.13 a code object explored with settrace, then monitoring, then settrace
    # again in one process loses its opcode events (a CPython interplay older than solo runs).
    for _ in range(times):
        box.n += 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_code_silenced_while_alone_is_traced_again_once_another_thread_runs(backend: str) -> None:
    def body() -> None:
        box = Box()
        bump_again(box, 3)  # alone: its instructions stop being traced
        t = threading.Thread(target=bump_again, args=(box, 1))
        t.start()
        bump_again(box, 1)  # racing with t: its increment must be a switch point again
        t.join()
        assert box.n == 5

    r = interleave.explore(body, executions=300, seed=0, strategy="random", backend=backend)
    assert r.failure is not None and isinstance(r.failure.exception, AssertionError), r.verdict
    assert interleave.replay(body, r.failure.token).failure.kind == "exception"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_lone_endless_loop_ends_at_the_step_limit_when_recording_too(backend: str) -> None:
    def body() -> None:
        box = Box()
        while box.n >= 0:
            box.n += 1

    r = interleave.explore(body, executions=1, max_steps=700, backend=backend)
    assert r.failure is not None and r.failure.kind == "step-limit"
    assert r.failure.steps == 700  # one step per iteration, counted alike by the recording replay
    again = interleave.replay(body, r.failure.token, max_steps=700, backend=backend)
    assert again.failure is not None and again.failure.kind == "step-limit" and again.failure.steps == 700


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_report_still_shows_what_a_lone_thread_did(backend: str) -> None:
    def body() -> None:
        box = Box()
        bump(box, 3)
        assert box.n == 4

    r = interleave.explore(body, executions=1, backend=backend)
    assert r.failure is not None
    assert "write Box.n = 3" in r.failure.report, r.failure.report
