"""DPOR on shared generators and on ``threading.local`` (issue 13, the session 9 audit).

A generator resumed by two threads: DPOR claimed "exhausted: no failure" where exhaustive search
finds ``ValueError: generator already executing`` (nothing inside the generator touched shared
data, so nothing ordered a resumption against the generator's own steps). A ``threading.local``
subclass with an ``__init__``: evaluating an access ran the ``__init__`` for the wrong thread,
outside the schedule, and DPOR reported a false divergence; and its attributes, though each
thread has its own, made every access depend on everything (tens of thousands of executions
for one class).
"""

from __future__ import annotations

import sys
import threading
import types
from collections import deque
from typing import Any, Callable, List

import pytest

import interleave

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])
STRATEGIES = ["dpor", "exhaustive"]
BUDGET = 20_000


def run_pair(a: Callable[[], None], b: Callable[[], None]) -> None:
    """Run two functions as threads and wait for both."""
    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def resume(step: Callable[[], Any], busy: List[str]) -> None:
    """Resume a generator; note it if another thread was running it."""
    try:
        step()
    except StopIteration:
        pass
    except ValueError as e:
        busy.append(str(e))


# ------------------------------------------------------------------ shared generators

def send_from_two_threads() -> None:
    def g() -> Any:
        total = 0
        while True:
            x = yield total
            total += x

    gen = g()
    next(gen)
    busy: List[str] = []
    run_pair(lambda: resume(lambda: gen.send(1), busy), lambda: resume(lambda: gen.send(1), busy))
    assert not busy, busy


def coroutine_send() -> None:
    @types.coroutine
    def g() -> Any:
        t = 0
        while True:
            yield t
            t += 1

    gen = g()
    gen.send(None)
    busy: List[str] = []
    run_pair(lambda: resume(lambda: gen.send(1), busy), lambda: resume(lambda: gen.send(1), busy))
    assert not busy, busy


def throw_while_sending() -> None:
    def g() -> Any:
        while True:
            try:
                x = yield
                y = x + 1  # noqa: F841
            except KeyError:
                pass

    gen = g()
    next(gen)
    busy: List[str] = []
    run_pair(lambda: resume(lambda: gen.throw(KeyError("k")), busy), lambda: resume(lambda: gen.send(1), busy))
    assert not busy, busy


def send_into_a_finishing_generator() -> None:
    def g() -> Any:
        x = yield 1
        z = x * 2
        return z

    gen = g()
    next(gen)
    busy: List[str] = []
    run_pair(lambda: resume(lambda: gen.send(1), busy), lambda: resume(lambda: gen.send(3), busy))
    assert not busy, busy


def consumed_by_builtins() -> None:
    def g() -> Any:
        for i in range(2):
            j = i + 1
            yield j

    gen = g()
    busy: List[str] = []
    run_pair(lambda: resume(lambda: list(gen), busy), lambda: resume(lambda: deque(gen), busy))
    assert not busy, busy


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("body", [send_from_two_threads, coroutine_send, throw_while_sending,
                                  send_into_a_finishing_generator, consumed_by_builtins], ids=lambda f: f.__name__)
def test_a_resumption_while_another_thread_runs_the_generator_is_found(
        body: Callable[[], None], strategy: str, backend: str) -> None:
    r = interleave.explore(body, strategy=strategy, executions=BUDGET, backend=backend, shrink=False)
    assert r.failure is not None, f"{strategy} missed it: {r.executions} executions, exhausted={r.exhausted}"
    assert "generator already executing" in str(r.failure.exception), r.failure.exception


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_generator_used_by_one_thread_stays_one_class(backend: str) -> None:
    """The running-state reads cost events, not classes: nothing else touches the generator."""
    def body() -> None:
        def g(m: int) -> Any:
            yield m
            k = m * 2  # a visible point inside the generator: an event that reads its state
            yield k

        def worker() -> None:
            n = 0
            gen = g(1)
            for _ in gen:
                n = n + 1
            assert n == 2

        run_pair(worker, worker)

    r = interleave.explore(body, strategy="dpor", executions=100, backend=backend)
    assert r.exhausted and r.failure is None, r.verdict
    assert r.strategy_stats["classes"] == 1, r.strategy_stats


def copy_of_a_shared_list() -> None:
    shared = [0]
    seen: List[int] = []
    run_pair(lambda: seen.append(len(deque(shared))), lambda: shared.append(1))
    assert seen == [1], seen


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_deque_built_from_a_shared_list_reads_it(backend: str) -> None:
    r = interleave.explore(copy_of_a_shared_list, strategy="dpor", executions=BUDGET, backend=backend, shrink=False)
    assert r.failure is not None, r.verdict


# ------------------------------------------------------------------ threading.local


class Started(threading.local):
    """A local whose ``__init__`` runs again in each thread, at its first access."""

    def __init__(self, start: int) -> None:
        self.n = start


AT_IMPORT = Started(7)


def local_subclasses() -> None:
    loc = Started(3)
    seen: List[Any] = []

    def worker() -> None:
        seen.append((loc.n, AT_IMPORT.n))
        loc.n += 1
        AT_IMPORT.n += 10

    run_pair(worker, worker)
    assert seen == [(3, 7), (3, 7)], seen


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES + ["random"])
def test_a_local_subclass_with_init_is_no_divergence(strategy: str, backend: str) -> None:
    r = interleave.explore(local_subclasses, strategy=strategy, executions=300, seed=1, backend=backend)
    assert r.failure is None, r.failure.report if r.failure else ""
    if strategy == "dpor":
        # The two appends of the same tuple, in either order: nothing else depends on the other thread.
        assert r.exhausted and r.strategy_stats["classes"] == 2, r.strategy_stats


def own_slots_with_init() -> None:
    loc = Started(3)

    def worker() -> None:
        loc.n += 1
        assert loc.n == 4

    run_pair(worker, worker)


def own_slots_plain() -> None:
    loc = threading.local()

    def worker() -> None:
        loc.n = 1
        loc.n += 1
        assert loc.n == 2

    run_pair(worker, worker)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("body", [own_slots_with_init, own_slots_plain], ids=lambda f: f.__name__)
def test_threads_on_their_own_local_slots_are_one_class(body: Callable[[], None], backend: str) -> None:
    r = interleave.explore(body, strategy="dpor", executions=1000, backend=backend)
    assert r.exhausted and r.failure is None, r.verdict
    assert r.strategy_stats["classes"] == 1, r.strategy_stats


class Slotted(threading.local):
    """A slot is stored in the object itself: every thread sees the same one."""

    __slots__ = ("s",)


class Defaulted(threading.local):
    """A read the thread's own dict does not answer falls back on the (shared) class attribute."""

    x = 0


def lost_update_on_a_slot() -> None:
    loc = Slotted()
    loc.s = 0

    def worker() -> None:
        v = loc.s
        loc.s = v + 1

    run_pair(worker, worker)
    assert loc.s == 2, loc.s


def class_attribute_behind_a_local() -> None:
    Defaulted.x = 0
    loc = Defaulted()
    seen: List[int] = []

    def a() -> None:
        seen.append(loc.x)

    def b() -> None:
        Defaulted.x = 7

    run_pair(a, b)
    assert seen == [0], seen


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("body", [lost_update_on_a_slot, class_attribute_behind_a_local], ids=lambda f: f.__name__)
def test_what_a_local_shares_still_races(body: Callable[[], None], strategy: str, backend: str) -> None:
    r = interleave.explore(body, strategy=strategy, executions=BUDGET, backend=backend, shrink=False)
    assert r.failure is not None and r.failure.kind == "exception", r.verdict
