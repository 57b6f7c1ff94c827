"""Popular pure-Python libraries from PyPI, used as their documentation shows, from 2-3 threads.

Installed with ``pip install -e .[realworld]`` (pinned versions); skipped when absent. Every
library here is instrumented (``instrument=[name]``), and several bind primitives or clocks
at import (``from threading import Lock``, ``from time import monotonic``, a default argument
``timer=time.monotonic``, ``now = time.monotonic``): inside the run they must be cooperative
and virtual, or the correct uses below fail (foreign locks, real clocks) or take real seconds.

Known races (the libraries document that they need external locking, or do not lock) are
found in every seed by every sampling strategy; correct uses stay clean.
"""

from __future__ import annotations

import threading
import time

import pytest
from realworld_helpers import (
    CLEAN_STRATEGIES,
    RACE_STRATEGIES,
    assert_clean,
    assert_race_found,
    run_threads,
)

pytestmark = pytest.mark.timeout(600)


# ---------------------------------------------------------------- cachetools (TTLCache)
@pytest.mark.parametrize("strategy", RACE_STRATEGIES)
def test_cachetools_ttlcache_without_a_lock_races(strategy: str) -> None:
    """The docs: caches are not thread-safe; access from several threads needs a lock."""
    cachetools = pytest.importorskip("cachetools")

    def body() -> None:
        cache = cachetools.TTLCache(maxsize=2, ttl=60)

        def fill(i: int) -> None:
            for k in range(3):
                cache[(i, k)] = k

        run_threads(lambda: fill(0), lambda: fill(1))

    # The same race corrupts the cache in several ways, depending on the schedule and the
    # version: KeyError (an evicted key already gone), RuntimeError (an OrderedDict mutated while
    # iterated), TypeError (a half-linked expiry node). Each is raised inside cachetools.
    assert_race_found(body, ["cachetools"], strategy, (KeyError, RuntimeError, TypeError),
                      raised_in="cachetools/__init__.py")


@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_cachetools_cached_with_a_lock_expires_in_virtual_time(strategy: str) -> None:
    """``@cached(TTLCache(...), lock=Lock())``: computed once per key while fresh, again after the TTL.

    TTLCache's timer is ``time.monotonic`` bound as a default argument at import.
    """
    cachetools = pytest.importorskip("cachetools")

    def body() -> None:
        calls = []
        cache = cachetools.TTLCache(maxsize=16, ttl=5)

        @cachetools.cached(cache, lock=threading.Lock())
        def square(x: int) -> int:
            calls.append(x)
            return x * x

        run_threads(lambda: square(3), lambda: square(3))
        assert square(3) == 9
        fresh = len(calls)
        assert 1 <= fresh <= 2  # both may miss before either stores: the docs allow it
        time.sleep(6)  # virtual: past the TTL
        assert square(3) == 9 and len(calls) == fresh + 1

    assert_clean(body, ["cachetools"], strategy)


# ---------------------------------------------------------------- sortedcontainers
@pytest.mark.parametrize("strategy", RACE_STRATEGIES)
def test_sortedcontainers_sortedlist_without_a_lock_races(strategy: str) -> None:
    sortedcontainers = pytest.importorskip("sortedcontainers")

    def body() -> None:
        s = sortedcontainers.SortedList()
        run_threads(lambda: [s.add(k) for k in (1, 2, 3)], lambda: [s.add(k) for k in (11, 12, 13)])
        assert len(s) == 6 and list(s) == [1, 2, 3, 11, 12, 13], list(s)

    assert_race_found(body, ["sortedcontainers"], strategy, AssertionError)


@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_sortedcontainers_sorteddict_with_a_lock_is_clean(strategy: str) -> None:
    sortedcontainers = pytest.importorskip("sortedcontainers")

    def body() -> None:
        d = sortedcontainers.SortedDict()
        lock = threading.Lock()

        def put(base: int) -> None:
            for k in range(3):
                with lock:
                    d[base + k] = k

        run_threads(lambda: put(0), lambda: put(10))
        assert list(d.keys()) == [0, 1, 2, 10, 11, 12]
        d._check()

    assert_clean(body, ["sortedcontainers"], strategy)


# ---------------------------------------------------------------- circuitbreaker
def _circuitbreaker_body(locked: bool):
    circuitbreaker = pytest.importorskip("circuitbreaker")

    def body() -> None:
        breaker = circuitbreaker.CircuitBreaker(failure_threshold=2, recovery_timeout=30,
                                                expected_exception=ValueError, name=None)
        guard = threading.Lock()

        @breaker
        def fetch() -> None:
            raise ValueError("backend down")

        def call() -> None:
            try:
                if locked:
                    with guard:
                        fetch()
                else:
                    fetch()
            except (ValueError, circuitbreaker.CircuitBreakerError):
                pass

        run_threads(call, call)
        assert breaker.opened, f"two failures, threshold 2, but failure_count={breaker.failure_count}"
        # recovery_timeout is measured with `from time import monotonic`, bound at import.
        time.sleep(31)
        assert breaker.state == circuitbreaker.STATE_HALF_OPEN

    return body


@pytest.mark.parametrize("strategy", RACE_STRATEGIES)
def test_circuitbreaker_failure_count_is_a_lost_update(strategy: str) -> None:
    """``_failure_count += 1`` without a lock: two concurrent failures can count as one."""
    assert_race_found(_circuitbreaker_body(locked=False), ["circuitbreaker"], strategy, AssertionError)


@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_circuitbreaker_serialised_calls_open_and_half_open_in_virtual_time(strategy: str) -> None:
    assert_clean(_circuitbreaker_body(locked=True), ["circuitbreaker"], strategy)


# ---------------------------------------------------------------- boltons cacheutils (LRU)
@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_boltons_lru_is_thread_safe(strategy: str) -> None:
    """LRU locks with an RLock imported at import time (``from threading import RLock``)."""
    cacheutils = pytest.importorskip("boltons.cacheutils")

    def body() -> None:
        cache = cacheutils.LRU(max_size=2)

        def fill(i: int) -> None:
            for k in range(3):
                cache[(i, k)] = k

        run_threads(lambda: fill(0), lambda: fill(1))
        assert len(cache) == 2 and (cache.hit_count, cache.miss_count) == (0, 0)

    assert_clean(body, ["boltons"], strategy)


@pytest.mark.parametrize("strategy", RACE_STRATEGIES)
def test_boltons_lru_get_or_compute_by_hand_is_not_atomic(strategy: str) -> None:
    """Check-then-set across two calls: each call is locked, the pair is not (a race in the user's code)."""
    cacheutils = pytest.importorskip("boltons.cacheutils")

    def body() -> None:
        cache = cacheutils.LRU(max_size=8)
        computed = []

        def get_or_compute() -> None:
            if "k" not in cache:
                computed.append(1)
                cache["k"] = "v"

        run_threads(get_or_compute, get_or_compute)
        assert len(computed) == 1, "computed twice"

    assert_race_found(body, ["boltons"], strategy, AssertionError)


# ---------------------------------------------------------------- blinker signals
# Receivers at module level, as blinker's docs show them (blinker holds them weakly: a receiver
# defined inside the body would be collected, and disconnected, when the body returns).
_blinker_got: list = []


def _blinker_audit(sender: str, **kw: object) -> None:
    _blinker_got.append(("audit", sender))


def _blinker_count(sender: str, **kw: object) -> None:
    _blinker_got.append(("count", sender))


@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_blinker_every_receiver_gets_every_send(strategy: str) -> None:
    blinker = pytest.importorskip("blinker")

    def body() -> None:
        signal = blinker.Signal()
        _blinker_got.clear()
        signal.connect(_blinker_audit)
        signal.connect(_blinker_count)
        run_threads(lambda: signal.send("a"), lambda: signal.send("b"))
        assert sorted(_blinker_got) == [("audit", "a"), ("audit", "b"), ("count", "a"), ("count", "b")]

    assert_clean(body, ["blinker"], strategy)


def test_blinker_receiver_connected_inside_the_body() -> None:
    """A receiver defined in the body: blinker holds it weakly, so it is disconnected when the body ends."""
    blinker = pytest.importorskip("blinker")

    def body() -> None:
        got = []
        signal = blinker.Signal()

        def audit(sender: str, **kw: object) -> None:
            got.append(sender)

        signal.connect(audit)
        run_threads(lambda: signal.send("a"), lambda: signal.send("b"))
        assert sorted(got) == ["a", "b"]

    assert_clean(body, ["blinker"])


# ---------------------------------------------------------------- pyee event emitter
@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_pyee_once_handler_runs_exactly_once(strategy: str) -> None:
    """pyee locks with ``from threading import Lock`` bound at import."""
    pyee = pytest.importorskip("pyee")

    def body() -> None:
        ee = pyee.EventEmitter()
        calls = []

        @ee.once("ready")
        def on_ready(n: int) -> None:
            calls.append(n)

        run_threads(lambda: ee.emit("ready", 1), lambda: ee.emit("ready", 2), lambda: ee.emit("ready", 3))
        assert len(calls) == 1, calls

    assert_clean(body, ["pyee"], strategy)


# ---------------------------------------------------------------- prometheus_client
@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_prometheus_counter_created_at_import_counts_every_inc(strategy: str) -> None:
    """A module-level labelled Counter, as the docs show: its children's locks were built at import."""
    pytest.importorskip("prometheus_client")
    import metrics_module  # a module of the application under test, imported before the run

    def body() -> None:
        child = metrics_module.REQUESTS.labels(method="GET")
        before = child._value.get()
        run_threads(lambda: [child.inc() for _ in range(2)], lambda: [child.inc() for _ in range(2)])
        assert child._value.get() == before + 4

    assert_clean(body, ["prometheus_client"], strategy)


# ---------------------------------------------------------------- expiringdict
@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_expiringdict_items_expire_in_virtual_time(strategy: str) -> None:
    """ExpiringDict locks with ``from threading import RLock`` bound at import."""
    expiringdict = pytest.importorskip("expiringdict")

    def body() -> None:
        d = expiringdict.ExpiringDict(max_len=4, max_age_seconds=10)

        def put(base: int) -> None:
            for k in range(2):
                d[base + k] = k

        run_threads(lambda: put(0), lambda: put(10))
        assert sorted(d.keys()) == [0, 1, 10, 11]
        time.sleep(11)  # expired items are dropped when read (len() counts them until then)
        assert [d.get(k) for k in (0, 1, 10, 11)] == [None, None, None, None]

    assert_clean(body, ["expiringdict"], strategy)


# ---------------------------------------------------------------- ratelimit
@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_ratelimit_sleep_and_retry_respects_the_limit_in_virtual_time(strategy: str) -> None:
    """``now = time.monotonic`` at module level and ``clock=now`` as a default argument.

    With the real clock bound, each execution would wait a real second and the limit would be
    measured against time that does not move with virtual sleeps.
    """
    ratelimit = pytest.importorskip("ratelimit")

    def body() -> None:
        stamps = []

        @ratelimit.sleep_and_retry
        @ratelimit.limits(calls=2, period=1)
        def call_api() -> None:
            stamps.append(time.monotonic())

        start = time.monotonic()
        run_threads(call_api, call_api, call_api)
        assert len(stamps) == 3
        # Two calls per period: the third waited for the next period. (The call itself runs
        # after the lock is released, so the stamps of one period can be taken later.)
        assert time.monotonic() - start >= 1.0, stamps

    assert_clean(body, ["ratelimit"], strategy)


# ---------------------------------------------------------------- pybreaker
@pytest.mark.parametrize("strategy", CLEAN_STRATEGIES)
def test_pybreaker_opens_after_fail_max_concurrent_failures(strategy: str) -> None:
    pybreaker = pytest.importorskip("pybreaker")

    def body() -> None:
        breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60)

        def fetch() -> None:
            raise ConnectionError("down")

        def call() -> None:
            try:
                breaker.call(fetch)
            except (ConnectionError, pybreaker.CircuitBreakerError):
                pass

        run_threads(call, call)
        assert breaker.current_state == "open" and breaker.fail_counter == 2

    assert_clean(body, ["pybreaker"], strategy)
