"""Names, defaults and primitives a library bound at import are swapped for the run, and restored."""

from __future__ import annotations

import _thread
import importlib
import sys
import textwrap
import threading
import time

import pytest

import interleave
from interleave.errors import InconclusiveError

BACKENDS = ["auto", "settrace"] if sys.version_info >= (3, 12) else ["auto"]

LIB = '''
import time
import threading
from threading import Lock, RLock
from time import monotonic, sleep as _sleep
from _thread import allocate_lock

now = time.monotonic


def make_lock():
    return Lock()


def make_rlock():
    return RLock()


def clock_default(timer=time.monotonic):
    return timer()


def clock_kwdefault(*, timer=time.perf_counter):
    return timer()


class Cache:
    clock = time.monotonic

    def __init__(self, ttl, timer=time.monotonic):
        self.ttl = ttl
        self.timer = timer
        self.born = None

    def stamp(self):
        self.born = self.timer()

    def expired(self):
        return self.timer() - self.born >= self.ttl

    @staticmethod
    def static_now(timer=time.time):
        return timer()


PREBUILT = Cache(5)


class _Value:
    def __init__(self):
        self._lock = Lock()
        self.n = 0

    def inc(self):
        with self._lock:
            v = self.n
            self.n = v + 1


class _Child:
    def __init__(self):
        self._value = _Value()


class _Registry:
    def __init__(self):
        self._metrics = {"requests": {("GET",): _Child()}}


REGISTRY = [_Registry()]  # the lock sits six objects below the module global
'''


@pytest.fixture()
def fakelib(tmp_path, monkeypatch):
    """A library installed in a site-packages directory (not instrumented by default)."""
    site = tmp_path / "lib" / "site-packages"
    (site / "fakelib_bound").mkdir(parents=True)
    (site / "fakelib_bound" / "__init__.py").write_text(textwrap.dedent(LIB))
    monkeypatch.syspath_prepend(str(site))
    mod = importlib.import_module("fakelib_bound")
    yield mod
    sys.modules.pop("fakelib_bound", None)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", BACKENDS)
def test_clocks_bound_at_import_read_virtual_time(fakelib, backend):
    seen = {}

    def body():
        t = {}
        for name, read in [("from-import", fakelib.monotonic), ("module-level", fakelib.now),
                           ("default", fakelib.clock_default), ("kwdefault", fakelib.clock_kwdefault),
                           ("class-attr", fakelib.Cache.clock), ("static-default", fakelib.Cache.static_now),
                           ("instance-before-run", fakelib.PREBUILT.timer),
                           ("method-default", lambda: fakelib.Cache(1).timer())]:
            t[name] = read()
        time.sleep(1000)  # virtual: no wall time passes, so a real clock would not move
        for name, read in [("from-import", fakelib.monotonic), ("module-level", fakelib.now),
                           ("default", fakelib.clock_default), ("kwdefault", fakelib.clock_kwdefault),
                           ("class-attr", fakelib.Cache.clock), ("static-default", fakelib.Cache.static_now),
                           ("instance-before-run", fakelib.PREBUILT.timer),
                           ("method-default", lambda: fakelib.Cache(1).timer())]:
            seen[name] = read() - t[name]

    interleave.explore(body, executions=1, backend=backend)
    assert {k: v >= 999 for k, v in seen.items()} == {k: True for k in seen}, seen


@pytest.mark.timeout(60)
def test_ttl_expires_in_virtual_time(fakelib):
    def body():
        c = fakelib.Cache(5)
        c.stamp()
        time.sleep(6)
        assert c.expired()

    result = interleave.explore(body, executions=3)
    assert result.failure is None


@pytest.mark.timeout(60)
def test_everything_swapped_is_restored(fakelib):
    before = (fakelib.monotonic, fakelib.now, fakelib.Lock, fakelib.allocate_lock, fakelib.clock_default.__defaults__,
              fakelib.clock_kwdefault.__kwdefaults__["timer"], fakelib.Cache.__init__.__defaults__,
              fakelib.Cache.clock, fakelib.PREBUILT.timer, fakelib._sleep,
              fakelib.REGISTRY[0]._metrics["requests"][("GET",)]._value._lock)
    inside = {}

    def body():
        inside["lock"] = type(fakelib.REGISTRY[0]._metrics["requests"][("GET",)]._value._lock)
        inside["made"] = type(fakelib.make_lock())

    interleave.explore(body, executions=1)
    assert inside["lock"] is not _thread.LockType and inside["made"] is not _thread.LockType
    after = (fakelib.monotonic, fakelib.now, fakelib.Lock, fakelib.allocate_lock, fakelib.clock_default.__defaults__,
             fakelib.clock_kwdefault.__kwdefaults__["timer"], fakelib.Cache.__init__.__defaults__,
             fakelib.Cache.clock, fakelib.PREBUILT.timer, fakelib._sleep,
             fakelib.REGISTRY[0]._metrics["requests"][("GET",)]._value._lock)
    assert all(a is b for a, b in zip(before, after)), (before, after)
    assert fakelib.monotonic is time.monotonic and fakelib.Lock is threading.Lock


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_constructor_bound_at_import_is_cooperative(fakelib, backend):
    """``from threading import Lock`` then ``Lock()`` inside the run, held across switch points."""

    def body():
        lock = fakelib.make_lock()
        rlock = fakelib.make_rlock()
        box = [0, 0]

        def work():
            with lock:
                v = box[0]
                box[0] = v + 1
            with rlock:
                with rlock:
                    w = box[1]
                    box[1] = w + 1

        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box == [2, 2]

    result = interleave.explore(body, executions=200, seed=3, backend=backend)
    assert result.failure is None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_deep_module_level_lock_is_cooperative(fakelib, backend):
    """A metrics-registry-like object built at import: its lock is six objects deep."""

    def body():
        # Reached through the module only: the body holds no reference the adopter could follow.
        value = fakelib.REGISTRY[0]._metrics["requests"][("GET",)]._value
        start = value.n
        ts = [threading.Thread(target=value.inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert value.n == start + 2

    try:
        result = interleave.explore(body, executions=200, seed=5, instrument=["fakelib_bound"], backend=backend)
    except InconclusiveError as exc:  # the real lock blocked the OS thread
        pytest.fail(f"module-level lock was not made cooperative: {exc}")
    assert result.failure is None
    assert fakelib.REGISTRY[0]._metrics["requests"][("GET",)]._value.n >= 2
