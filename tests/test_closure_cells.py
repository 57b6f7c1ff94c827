"""A closure cell shared by threads keeps every write made to it, under every strategy and back-end.

CPython's ``sys.settrace`` copies a traced frame's locals, cells included, into a dict before
each trace callback and back after it (always on 3.10; on 3.11/3.12 once the callback read
``f_locals``). A switch point inside the callback let other threads write a shared ``nonlocal``
in between, and the copy back undid their write: a correct counter under a lock failed on 3.10,
and a real race reported through a ``nonlocal`` flag was "proved" absent.
"""

from __future__ import annotations

import sys
import threading
from typing import List, Optional

import pytest

import interleave
from interleave.strategies import registry

pytestmark = pytest.mark.timeout(120)

STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


def locked_nonlocal_counter() -> None:
    lock = threading.Lock()
    n = 0

    def inc() -> None:
        nonlocal n
        for _ in range(2):
            with lock:
                n += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert n == 4, n


def nonlocal_result() -> None:
    result: Optional[int] = None

    def worker() -> None:
        nonlocal result
        result = 42

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert result == 42, result


def racy_check_then_act_reported_through_a_flag() -> None:
    items: List[int] = []
    seen_twice = False

    def add() -> None:
        nonlocal seen_twice
        if not items:
            items.append(1)
        if len(items) > 1:
            seen_twice = True

    ts = [threading.Thread(target=add) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not seen_twice, "both threads appended"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("body", [locked_nonlocal_counter, nonlocal_result], ids=lambda f: f.__name__)
def test_writes_to_a_shared_closure_cell_are_never_undone(body: object, strategy: str, backend: str) -> None:
    r = interleave.explore(body, executions=150, seed=3, strategy=strategy, backend=backend)  # type: ignore[arg-type]
    assert r.failure is None, r.failure.report


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["dpor", "random", "pct", "portfolio"])
def test_a_race_reported_through_a_closure_cell_is_found(strategy: str, backend: str) -> None:
    r = interleave.explore(racy_check_then_act_reported_through_a_flag, executions=2_000, seed=0,
                           strategy=strategy, backend=backend)
    assert r.failure is not None, r.verdict
    assert "both threads appended" in r.failure.report
