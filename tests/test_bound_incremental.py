"""The import-time swap between explorations of one process: what appeared since is swapped too."""

from __future__ import annotations

import gc
import importlib
import queue
import sys
import textwrap
import threading
import time
import types

import pytest

import interleave
from interleave.patches import bound

MODULE = '''
import queue
import time
from threading import Lock
from time import monotonic

now = time.monotonic
Factory = queue.SimpleQueue


def clock_default(timer=time.monotonic):
    return timer


class Holder:
    klass_clock = time.perf_counter
'''


def _explore_and_look(read):
    """Run ``read`` inside a one-execution exploration; what it returned there."""
    seen = {}

    def body():
        seen["inside"] = read()

    interleave.explore(body, executions=1)
    return seen["inside"]


def _warm():
    """An exploration first, so that the next one starts from what this one remembered."""
    interleave.explore(lambda: None, executions=1)


@pytest.fixture()
def fresh_module(tmp_path, monkeypatch):
    """Imports a new library module on demand (under site-packages: not instrumented)."""
    site = tmp_path / "lib" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    names = []

    def make(name):
        (site / f"{name}.py").write_text(textwrap.dedent(MODULE))
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)

    yield make
    for name in names:
        sys.modules.pop(name, None)


@pytest.mark.timeout(60)
def test_module_imported_between_explorations_is_swapped_then_restored(fresh_module):
    _warm()
    mod = fresh_module("bound_incr_new_module")
    inside = _explore_and_look(lambda: (mod.monotonic, mod.now, mod.Lock, mod.Factory,
                                        mod.clock_default(), mod.Holder.klass_clock))
    assert inside[0] is not time.monotonic and inside[1] is not time.monotonic
    assert inside[2] is not threading.Lock and inside[3] is not queue.SimpleQueue
    assert inside[4] is not time.monotonic and inside[5] is not time.perf_counter
    assert (mod.monotonic, mod.now, mod.Lock, mod.Factory, mod.clock_default(), mod.Holder.klass_clock) == (
        time.monotonic, time.monotonic, threading.Lock, queue.SimpleQueue, time.monotonic, time.perf_counter)


@pytest.mark.timeout(60)
def test_object_and_function_created_between_explorations_are_swapped_then_restored():
    _warm()

    class Service:
        def __init__(self):
            self.clock = time.monotonic
            self.queue_type = queue.SimpleQueue

    service = Service()
    fn = types.FunctionType((lambda timer=None: timer).__code__, {}, "fn", (time.time,))
    first = _explore_and_look(lambda: (service.clock, service.queue_type, fn()))
    assert first[0] is not time.monotonic and first[1] is not queue.SimpleQueue and first[2] is not time.time
    assert (service.clock, service.queue_type, fn()) == (time.monotonic, queue.SimpleQueue, time.time)
    # A second object after that exploration: found again, and the first one is still swapped.
    other = Service()
    second = _explore_and_look(lambda: (service.clock, other.clock, other.queue_type))
    assert all(v is not time.monotonic and v is not queue.SimpleQueue for v in second), second
    assert (service.clock, other.clock, other.queue_type) == (time.monotonic, time.monotonic, queue.SimpleQueue)


@pytest.mark.timeout(60)
def test_old_module_given_a_real_clock_between_explorations_is_swapped(fresh_module):
    mod = fresh_module("bound_incr_old_module")
    _warm()  # the module is old now, and remembered as an owner of what it held then
    mod.late_clock = time.time
    mod.late_lock = threading.Lock
    inside = _explore_and_look(lambda: (mod.late_clock, mod.late_lock, mod.monotonic))
    assert inside[0] is not time.time and inside[2] is not time.monotonic
    assert inside[1] is not threading.Lock
    assert (mod.late_clock, mod.late_lock) == (time.time, threading.Lock)


@pytest.mark.timeout(60)
def test_owner_that_dropped_its_clock_is_left_alone_and_others_still_swapped(fresh_module):
    mod = fresh_module("bound_incr_dropping")
    _warm()
    mod.now = "not a clock any more"
    inside = _explore_and_look(lambda: (mod.now, mod.monotonic))
    assert inside[0] == "not a clock any more" and inside[1] is not time.monotonic
    assert mod.now == "not a clock any more" and mod.monotonic is time.monotonic


@pytest.mark.timeout(60)
def test_nothing_new_means_no_heap_search(monkeypatch):
    """Back-to-back explorations with nothing new between them search the heap once at most."""
    gc.collect()
    _warm()
    searches = []
    real_search = bound._search_heap

    def counting(p):
        searches.append(1)
        return real_search(p)

    monkeypatch.setattr(bound, "_search_heap", counting)
    for _ in range(3):
        _warm()
    assert len(searches) <= 1, searches
    # And a new holder after them is still found.
    holder = types.SimpleNamespace(clock=time.monotonic)
    assert _explore_and_look(lambda: holder.clock) is not time.monotonic
    assert holder.clock is time.monotonic


@pytest.mark.timeout(60)
@pytest.mark.parametrize("collect", [None, 0, 1, 2])
def test_new_holder_of_a_real_type_only_is_found_whatever_the_collector_did(collect):
    """Only a real type (its instances come and go): found among the objects created since, or by a search."""
    _warm()
    keep = [queue.SimpleQueue() for _ in range(3)]  # instances refer to the type too: not holders
    holder = types.SimpleNamespace(factory=queue.SimpleQueue)
    if collect is not None:
        gc.collect(collect)
    inside = _explore_and_look(lambda: holder.factory)
    assert inside is not queue.SimpleQueue
    assert holder.factory is queue.SimpleQueue and all(type(q) is queue.SimpleQueue for q in keep)


@pytest.mark.timeout(60)
def test_sentinel_marks_what_was_created_since():
    _warm()
    made = [[i] for i in range(3)]
    found = bound._created_since(bound._STATE.sentinel)
    assert found is not None
    assert all(any(x is m for x in found) for m in made)
    gc.collect(0)
    again = bound._created_since(bound._STATE.sentinel)
    assert again is not None and all(any(x is m for x in again) for m in made)
    gc.collect(1)
    # Survivors of a collection of the middle generation go, in order, to the end of the oldest.
    after = bound._created_since(bound._STATE.sentinel)
    assert after is not None and all(any(x is m for x in after) for m in made)
    assert bound._STATE.young_in_sight()
    gc.collect(2)
    # A collection of the oldest generation may reorder it: out of sight, the heap is searched.
    assert not bound._STATE.young_in_sight()


@pytest.mark.timeout(60)
class _Holder:
    """An owner the survey can remember weakly (a SimpleNamespace cannot be: it is searched for every time)."""


def test_a_middle_collection_needs_no_heap_search_and_hides_no_holder(monkeypatch):
    gc.collect()  # owners left by earlier tests that cannot be remembered weakly are gone
    _warm()
    searches = []
    real_search = bound._search_heap
    monkeypatch.setattr(bound, "_search_heap", lambda p: searches.append(1) or real_search(p))
    gc.collect(1)
    _warm()
    assert searches == []  # nothing new holds a real callable: the objects made since say so
    # A real type: its count rises and falls with its instances, so only the new objects show it.
    holder = _Holder()
    holder.factory = queue.SimpleQueue
    gc.collect(1)
    assert _explore_and_look(lambda: holder.factory) is not queue.SimpleQueue
    assert holder.factory is queue.SimpleQueue


@pytest.mark.timeout(60)
def test_new_holder_of_a_real_type_found_while_its_instances_are_freed():
    """The type's count falls (three instances freed) as a holder appears: the new objects still show it."""
    queues = [queue.SimpleQueue() for _ in range(3)]
    _warm()
    del queues
    holder = types.SimpleNamespace(factory=queue.SimpleQueue)
    assert _explore_and_look(lambda: holder.factory) is not queue.SimpleQueue
    assert holder.factory is queue.SimpleQueue


@pytest.mark.timeout(60)
def test_a_new_dict_keyed_by_a_real_type_needs_no_heap_search(monkeypatch):
    """A cache keyed by class (the harness's own, cleared and tracked anew by the collector) holds a
    real type as a key only: the swap changes values, so it is no holder, and no search is made."""
    gc.collect()
    _warm()
    searches = []
    real_search = bound._search_heap
    monkeypatch.setattr(bound, "_search_heap", lambda p: searches.append(1) or real_search(p))
    by_class = {queue.SimpleQueue: False, type: False}
    _warm()
    assert searches == []
    assert by_class[queue.SimpleQueue] is False  # and the key is left alone
