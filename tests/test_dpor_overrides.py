"""DPOR and a library's subclass of a standard primitive: the override decides, not the base class.

A thread waiting in ``Event.wait()`` is disabled until the Event is set, as the theory asks, but
only because ``threading.Event.wait`` blocks: an override in code that is not traced may return
at once, and a DPOR that kept the thread disabled would never run the order where it does, and
call a failing program proved.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, List

import nonblocking_primitives as nb
import pytest
from runtime_helpers import run_threads

import interleave

EXCLUDE = ["nonblocking_primitives"]


def event_body() -> None:
    ev = nb.NonBlockingEvent()
    seen: List[bool] = []
    run_threads(ev.set, lambda: seen.append(ev.wait()))
    assert seen == [True], seen


def queue_body() -> None:
    q = nb.NonBlockingQueue()
    got: List[Any] = []

    def getter() -> None:
        try:
            got.append(q.get())
        except queue.Empty:
            got.append("empty")

    run_threads(lambda: q.put(1), getter)
    assert got == [1], got


def semaphore_body() -> None:
    sem = nb.TimedSemaphore(0)
    took: List[bool] = []
    run_threads(sem.release, lambda: took.append(sem.acquire()))
    assert took == [True], took


def condition_body() -> None:
    cond = nb.TimedCondition()
    entered: List[bool] = []

    def enterer() -> None:
        with cond as took:
            entered.append(took)

    cond.acquire()
    t = threading.Thread(target=enterer)
    t.start()
    cond.release()
    t.join()
    assert entered == [True], entered


BODIES: List[Callable[[], None]] = [event_body, queue_body, semaphore_body, condition_body]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: b.__name__)
@pytest.mark.parametrize("backend", ["auto", "settrace"])
def test_dpor_never_proves_a_program_whose_library_override_fails(body: Callable[[], None], backend: str) -> None:
    exhaustive = interleave.explore(body, strategy="exhaustive", executions=5000, exclude=EXCLUDE, backend=backend)
    assert exhaustive.failure is not None  # the failure is reachable
    result = interleave.explore(body, strategy="dpor", executions=5000, exclude=EXCLUDE, backend=backend)
    assert result.failure is not None, result.verdict
    replayed = interleave.replay(body, result.failure.token, exclude=EXCLUDE, backend=backend)
    assert replayed.failure is not None
