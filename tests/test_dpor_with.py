"""DPOR's class counts for ``with`` on a manager the statement itself creates.

``with Manager():``, ``with managed():`` and ``with lock.read_lock():`` (a ``@contextmanager`` function
or method) hand the ``with`` a new
object the harness could not read, so entering and leaving it touched everything: a locked
counter inside such a block had over 5,000 classes for two threads, and a lost update inside
one took DPOR 42 executions (thousands with a Condition in the manager). The manager's class is
known from the call that made it: entering and leaving run its code under test, whose own
points carry what they touch. Each correct program comes with a racy twin DPOR must still find.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Dict, Iterator

import pytest
from runtime_helpers import run_threads

import interleave
from interleave.versions import PY

BACKENDS = ["settrace"] + (["monitoring"] if PY >= (3, 12) else [])
LOCK = threading.Lock()
READERS: Dict[Any, int] = {}
COND = threading.Condition()


class Plain:
    def __enter__(self) -> Plain:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class Registered:
    """Enters and leaves under a Condition, writing a shared dict (a reader-writer lock's shape)."""

    def __enter__(self) -> None:
        with COND:
            READERS[threading.current_thread()] = 1

    def __exit__(self, *exc: Any) -> None:
        with COND:
            READERS.pop(threading.current_thread())


@contextlib.contextmanager
def managed() -> Iterator[None]:
    yield


@contextlib.contextmanager
def registered() -> Iterator[None]:
    with COND:
        READERS[threading.current_thread()] = 1
    try:
        yield
    finally:
        with COND:
            READERS.pop(threading.current_thread())


class ReadWriteLock:
    """A reader-writer lock's API (fasteners, readerwriterlock): ``with lock.read_lock():``."""

    @contextlib.contextmanager
    def read_lock(self) -> Iterator[None]:
        with registered():
            yield


RW = ReadWriteLock()

MANAGERS: Dict[str, Callable[[], Any]] = {"class": Plain, "contextmanager": managed,
                                          "class with a Condition": Registered,
                                          "contextmanager with a Condition": registered,
                                          "contextmanager method": RW.read_lock}


def counter(manager: Callable[[], Any], locked: bool) -> Callable[[], None]:
    def body() -> None:
        state = {"n": 0}

        def add() -> None:
            with manager():
                if locked:
                    with LOCK:
                        v = state["n"]
                        state["n"] = v + 1
                else:
                    v = state["n"]
                    state["n"] = v + 1

        run_threads(add, add)
        assert state["n"] == 2, state

    return body


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(MANAGERS))
def test_a_locked_counter_inside_a_new_manager_is_proved_in_few_classes(kind: str, backend: str) -> None:
    r = interleave.explore(counter(MANAGERS[kind], True), strategy="dpor", executions=2_000, backend=backend,
                           shrink=False)
    assert r.exhausted and r.failure is None, r.verdict
    # Two orders of the locked sections, times the orders of the managers' own shared steps.
    assert int(r.strategy_stats["classes"]) <= 12, r.strategy_stats


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(MANAGERS))
def test_a_lost_update_inside_a_new_manager_is_found_at_once(kind: str, backend: str) -> None:
    r = interleave.explore(counter(MANAGERS[kind], False), strategy="dpor", executions=2_000, backend=backend,
                           shrink=False)
    assert r.failure is not None and r.executions <= 20, r.verdict


def test_a_manager_with_its_own_new_is_still_any_object() -> None:
    """Only ``object.__new__`` surely makes an instance of the class called: anything else stays unknown."""

    class Odd(Plain):
        def __new__(cls) -> Any:
            return Plain()

    r = interleave.explore(counter(Odd, False), strategy="dpor", executions=2_000, shrink=False)
    assert r.failure is not None, r.verdict
