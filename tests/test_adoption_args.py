"""Primitives handed to the body, not only closed over, are made cooperative (issue 9, item 6).

A lock made before the run reaches the body as a ``functools.partial`` argument (the pytest
plugin binds fixtures that way), a default, a bound method's object, a callable object's
attribute or a closure several callables deep. Each must be swapped for a cooperative twin
for the run and be the original real object again afterwards. Without adoption the second
thread blocks its OS thread for real and the run ends in ForeignPrimitiveError.
"""

from __future__ import annotations

import functools
import inspect
import queue
import sys
import threading
import types
from typing import Any, Callable, Dict, List

import pytest
from runtime_helpers import assert_finds, assert_passes, run_threads

import interleave
from interleave import options
from interleave.runtime import watchdog

RUNS = 200
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


@pytest.fixture(autouse=True)
def quick_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock that was not adopted blocks for real: say so after half a second, not five."""
    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)


def is_real_lock(x: Any) -> bool:
    return type(x).__module__ == "_thread"


def count_twice(lock: Any, box: List[int], locked: bool = True) -> None:
    """Two threads add one each to ``box[0]``; the read and the write are apart."""
    box[0] = 0

    def add() -> None:
        if locked:
            with lock:
                v = box[0]
                interleave.switch()
                box[0] = v + 1
        else:
            v = box[0]
            interleave.switch()
            box[0] = v + 1

    run_threads(add, add)
    assert box[0] == 2, "lost update"


# ----------------------------------------------------------------- functools.partial
@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_lock_as_partial_argument(backend: str) -> None:
    lock = threading.Lock()
    body = functools.partial(count_twice, lock, [0])
    assert_passes(body, executions=RUNS, backend=backend)
    assert body.args[0] is lock and is_real_lock(lock)
    assert_finds(functools.partial(count_twice, lock, [0], locked=False), backend=backend)


@pytest.mark.timeout(120)
def test_lock_as_partial_keyword_like_a_fixture() -> None:
    """The pytest plugin calls ``partial(test_function, **fixtures)``."""
    lock = threading.RLock()
    body = functools.partial(count_twice, lock=lock, box=[0])
    assert_passes(body, executions=RUNS)
    assert body.keywords["lock"] is lock and is_real_lock(lock)


@pytest.mark.timeout(120)
def test_lock_method_as_partial_function() -> None:
    """``partial(lock.acquire)``-style: a real lock's bound method, swapped for its twin's."""
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release
    box = [0]

    def add(take: Callable[[], Any], give: Callable[[], Any]) -> None:
        take()
        v = box[0]
        interleave.switch()
        box[0] = v + 1
        give()

    def body() -> None:
        box[0] = 0
        run_threads(functools.partial(add, acquire, release), functools.partial(add, acquire, release))
        assert box[0] == 2

    assert_passes(body, executions=RUNS)
    assert acquire.__self__ is lock and not lock.locked()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("make", [threading.Lock, threading.RLock, queue.SimpleQueue, threading.Condition,
                                  threading.Semaphore, queue.Queue, threading.Event],
                         ids=lambda m: m.__name__)
def test_each_primitive_passed_directly(make: Callable[[], Any]) -> None:
    """Every kind of primitive, handed over as it is, guards or signals cooperatively."""
    prim = make()

    def use(p: Any) -> None:
        got: List[Any] = []
        if isinstance(p, (queue.SimpleQueue, queue.Queue)):
            run_threads(lambda: got.append(p.get()), lambda: p.put(1))
            assert got == [1]
        elif isinstance(p, threading.Event):
            p.clear()
            run_threads(lambda: got.append(p.wait()), p.set)
            assert got == [True]
        else:
            box = [0]

            def add() -> None:
                with p:
                    v = box[0]
                    interleave.switch()
                    box[0] = v + 1

            run_threads(add, add)
            assert box[0] == 2

    body = functools.partial(use, prim)
    assert_passes(body, executions=RUNS)
    assert body.args[0] is prim
    if isinstance(prim, (threading.Condition,)):
        assert is_real_lock(prim._lock)  # type: ignore[attr-defined]
    elif isinstance(prim, queue.Queue):
        assert is_real_lock(prim.mutex)


# ------------------------------------------------------------ bound methods, objects
class Counter:
    """A fixture-like object: its own lock, and a worker bound with partial."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.box = [0]
        self.adder = functools.partial(self.add_with, lock)  # the lock reached only as an argument

    def add_with(self, lock: Any) -> None:
        with lock:
            v = self.box[0]
            interleave.switch()
            self.box[0] = v + 1

    def run(self) -> None:
        self.box[0] = 0
        run_threads(self.adder, self.adder)
        assert self.box[0] == 2


@pytest.mark.timeout(120)
def test_lock_in_a_bound_methods_object() -> None:
    lock = threading.Lock()
    counter = Counter(lock)
    assert_passes(counter.run, executions=RUNS)
    assert counter.lock is lock and counter.adder.args[0] is lock and is_real_lock(lock)


@pytest.mark.timeout(120)
def test_fixture_like_object_through_partial() -> None:
    def body(counter: Counter) -> None:
        counter.run()

    counter = Counter(threading.Lock())
    original = counter.lock
    assert_passes(functools.partial(body, counter=counter), executions=RUNS)
    assert counter.lock is original and counter.adder.args[0] is original

    unlocked = Counter(threading.Lock())
    unlocked.adder = functools.partial(count_twice, unlocked.lock, unlocked.box, locked=False)
    assert_finds(functools.partial(body, counter=unlocked))


class CallableCounter:
    """The body is an object with ``__call__``: what it uses are its attributes."""

    def __init__(self) -> None:
        self.guards: Dict[str, Any] = {"lock": threading.Lock()}
        self.members = {threading.Lock()}  # a set: swapped by removing and adding

    def __call__(self) -> None:
        count_twice(self.guards["lock"], [0])
        (member,) = self.members
        count_twice(member, [0])


@pytest.mark.timeout(120)
def test_callable_object_attributes_and_set_members() -> None:
    body = CallableCounter()
    lock = body.guards["lock"]
    (member,) = body.members
    assert_passes(body, executions=RUNS)
    assert body.guards["lock"] is lock and body.members == {member}


# --------------------------------------------------------------- defaults, closures
@pytest.mark.timeout(120)
def test_lock_as_default_and_keyword_only_default() -> None:
    lock = threading.Lock()
    other = threading.Lock()

    def body(guard: Any = lock, *, second: Any = other) -> None:
        count_twice(guard, [0])
        count_twice(second, [0])

    assert_passes(body, executions=RUNS)
    assert body.__defaults__ == (lock,) and body.__defaults__[0] is lock
    assert body.__kwdefaults__ is not None and body.__kwdefaults__["second"] is other


@pytest.mark.timeout(120)
def test_closure_several_callables_deep() -> None:
    lock = threading.Lock()
    box = [0]

    def innermost() -> None:
        with lock:
            v = box[0]
            interleave.switch()
            box[0] = v + 1

    def level3() -> None:
        innermost()

    def level2() -> None:
        level3()

    def level1() -> None:
        level2()

    def body() -> None:
        box[0] = 0
        run_threads(level1, level1)
        assert box[0] == 2

    assert_passes(body, executions=RUNS)
    cells = dict(zip(innermost.__code__.co_freevars, innermost.__closure__ or (), strict=True))
    assert cells["lock"].cell_contents is lock


@pytest.mark.timeout(120)
def test_wrapped_function_reached_through_wrapped_attribute() -> None:
    """A decorator that keeps the original only as ``__wrapped__`` (functools.wraps sets it)."""
    lock = threading.Lock()

    def original(guard: Any = lock) -> None:
        count_twice(guard, [0])

    def call_wrapped() -> None:
        body.__wrapped__()  # type: ignore[attr-defined]

    body = functools.wraps(original)(lambda: call_wrapped())
    assert_passes(body, executions=RUNS)
    assert original.__defaults__ is not None and original.__defaults__[0] is lock


# ------------------------------------------------------------------ pytest fixtures
@pytest.fixture
def guard_lock() -> threading.Lock:
    return threading.Lock()


@pytest.fixture
def guarded(guard_lock: threading.Lock) -> Dict[str, Any]:
    return {"lock": guard_lock}


@pytest.mark.timeout(120)
@pytest.mark.interleave(executions=RUNS, seed=3)
def test_fixture_lock_under_the_plugin_marker(guard_lock: threading.Lock, guarded: Dict[str, Any]) -> None:
    """The plugin binds fixtures with partial: a fixture's lock must be cooperative in the run."""
    count_twice(guard_lock, [0])
    count_twice(guarded["lock"], [0])


# ------------------------------------------------------------- what cannot be swapped
@pytest.mark.timeout(60)
def test_lock_in_a_tuple_argument_is_named() -> None:
    hidden = threading.Lock()
    swappable = threading.Lock()

    def use(pair: Any, lock: Any) -> None:
        with lock:
            pass
        count_twice(pair[0], [0])

    body = functools.partial(use, (hidden,), swappable)
    with pytest.raises(interleave.ForeignPrimitiveError) as info:
        interleave.explore(body, executions=RUNS, seed=1)
    assert "argument 0[0] (lock)" in str(info.value)
    assert body.args[0][0] is hidden and not hidden.locked()
    assert body.args[1] is swappable and is_real_lock(swappable)  # restored after the error too


@pytest.mark.timeout(60)
def test_method_bound_to_a_lock_is_named() -> None:
    """A method's ``__self__`` cannot be rebound: reported, as before, never hung."""
    lock = threading.Lock()

    def critical(guard: Any) -> None:
        count_twice(guard, [0])

    body = types.MethodType(critical, lock)
    with pytest.raises(interleave.ForeignPrimitiveError) as info:
        interleave.explore(body, executions=RUNS, seed=1)
    assert "self (lock)" in str(info.value)
    assert body.__self__ is lock and not lock.locked()


# ------------------------------------------- a body that needs arguments (issue 9, item 8)
def needs_x(x: int) -> None:
    assert x


class CallsWithArgument:
    def __call__(self, item: int, scale: int = 2) -> None:
        assert item * scale


@pytest.mark.parametrize("body, names", [
    (lambda x: None, "an argument 'x'"),
    (needs_x, "an argument 'x'"),
    (CallsWithArgument(), "an argument 'item'"),
    (functools.partial(lambda a, b, c=1: None, 1), "an argument 'b'"),
    (lambda *, key: None, "an argument 'key'"),
    (lambda a, b: None, "arguments 'a', 'b'"),
], ids=["lambda", "function", "callable-object", "partial-leaving-one", "keyword-only", "two"])
@pytest.mark.parametrize("call", ["explore", "replay"])
def test_body_with_required_arguments_is_an_option_error(body: Any, names: str, call: str) -> None:
    """Said before anything runs, naming the argument and the fix, not 'every frame was excluded'."""
    with pytest.raises(interleave.OptionError) as info:
        if call == "explore":
            interleave.explore(body, executions=1, seed=1)
        else:
            interleave.replay(body, "il1_not-decoded-before-the-body-is-checked")
    msg = str(info.value)
    assert f"the test body takes {names}" in msg
    assert "functools.partial or a closure" in msg


def no_arguments_needed(x: int = 1, *rest: Any, **options: Any) -> None:
    assert x == 1 and rest == () and options == {}


@pytest.mark.parametrize("body", [no_arguments_needed, functools.partial(needs_x, 5),
                                  functools.partial(needs_x, x=5)],
                         ids=["defaults-and-varargs", "partial-positional", "partial-keyword"])
def test_body_callable_with_no_arguments_is_accepted(body: Any) -> None:
    result = interleave.explore(body, executions=3, seed=1)
    assert result.failure is None and result.executions == 3


def test_callable_without_a_signature_is_accepted() -> None:
    """Some C callables have no signature (``vars``): the check lets them through, not guesses."""
    try:
        inspect.signature(vars)
    except ValueError:
        pass
    else:
        pytest.skip("vars has a signature on this Python")
    assert options.callable_body(vars) is vars


async def async_body() -> None:
    raise AssertionError("never runs when called")


def generator_body() -> Any:
    yield 1


@pytest.mark.parametrize("body, kind", [
    (async_body, "an async function"),
    (functools.partial(async_body), "an async function"),
    (generator_body, "a generator function"),
], ids=["async", "partial-of-async", "generator"])
@pytest.mark.parametrize("call", ["explore", "replay"])
def test_a_body_whose_call_runs_nothing_is_an_option_error(body: Any, kind: str, call: str) -> None:
    """Calling an async or generator function runs none of its code: said as such, not as 'no switch point'."""
    with pytest.raises(interleave.OptionError, match=f"is {kind}: calling it only makes"):
        if call == "explore":
            interleave.explore(body, executions=1, seed=1)
        else:
            interleave.replay(body, "il1_not-decoded-before-the-body-is-checked")
