"""Objects the program drops die when it drops them, under every strategy and back-end.

With real threads, reference counting frees an object at its last ``del``: finalizers,
``__del__`` and weak containers see it go at once. The harness must not keep it alive (the
access tracker's per-execution objects and frames, settrace's solo mode), or such programs fail
under interleave and never for real.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, List

import pytest

import interleave
from interleave.strategies import registry
from interleave.versions import PY

BACKENDS = ["settrace"] + (["monitoring"] if PY >= (3, 12) else [])


class Obj:
    """A plain object that can be weakly referenced."""


class WithDel:
    """Reports its finalization in ``out``."""

    def __init__(self, out: List[str]) -> None:
        self.out = out

    def __del__(self) -> None:
        self.out.append("del")


def finalize_in_thread() -> None:
    out: List[int] = []

    def work() -> None:
        o = Obj()
        weakref.finalize(o, out.append, 1)
        del o

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out == [1], out


def finalize_in_body() -> None:
    out: List[int] = []
    o = Obj()
    weakref.finalize(o, out.append, 1)
    del o
    assert out == [1], out


def del_in_thread() -> None:
    out: List[str] = []

    def work() -> None:
        d = WithDel(out)
        d = None  # noqa: F841 - the last reference goes
        assert d is None

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out == ["del"], out


def weak_cache_in_threads() -> None:
    cache: Any = weakref.WeakValueDictionary()

    def work(i: int) -> None:
        o = Obj()
        cache[i] = o
        del o

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(cache) == 0, dict(cache)


PROGRAMS: List[Callable[[], None]] = [finalize_in_thread, finalize_in_body, del_in_thread, weak_cache_in_threads]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", registry.names())
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__)
def test_a_dropped_object_dies_at_once(program: Callable[[], None], strategy: str, backend: str) -> None:
    program()  # real threads: always true
    r = interleave.explore(program, strategy=strategy, executions=30, seed=1, backend=backend, shrink=False)
    assert r.failure is None, r.failure.report


def lost_update_on_objects_made_after_others_died() -> None:
    # Each thread makes and drops objects before the racy one: with dropped objects let go, the
    # racy object may take a dead one's id; a merged location only adds dependencies.
    box: List[Any] = []

    def work() -> None:
        for _ in range(3):
            o = Obj()
            o.n = 0
            del o
        if not box:
            box.append(Obj())
            box[0].n = 0
        c = box[0]
        c.n = c.n + 1

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box[0].n == 2, box[0].n


@pytest.mark.parametrize("backend", BACKENDS)
def test_dpor_still_finds_a_race_among_dropped_objects(backend: str) -> None:
    r = interleave.explore(lost_update_on_objects_made_after_others_died, strategy="dpor", executions=500,
                           backend=backend, shrink=False)
    assert r.failure is not None
