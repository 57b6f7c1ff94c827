"""Leave no trace: after explore/replay returns or raises, the interpreter is as it was."""

from __future__ import annotations

import _thread
import concurrent.futures
import concurrent.futures.thread as cft
import datetime
import gc
import os
import queue
import random
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

import programs
import pytest
from runtime_helpers import run_threads

import interleave
from interleave.strategies.base import Strategy

MODULES = (threading, _thread, queue, time, cft)
BACKENDS = ["auto"] + (["settrace"] if sys.version_info >= (3, 12) else [])


def snapshot() -> Dict[str, Any]:
    """Everything a run may touch, by identity."""
    state: Dict[str, Any] = {}
    for mod in MODULES:
        state[mod.__name__] = {k: v for k, v in vars(mod).items()}
    state["Thread"] = dict(vars(threading.Thread))
    state["trace"] = sys.gettrace()
    state["profile"] = sys.getprofile()
    if sys.version_info >= (3, 12):
        state["tools"] = [sys.monitoring.get_tool(i) for i in range(6)]
        state["tool_events"] = [sys.monitoring.get_events(i) for i in range(6)]
    state["random"] = random.getstate()
    state["active"] = dict(threading._active)  # type: ignore[attr-defined]
    state["limbo"] = dict(threading._limbo)  # type: ignore[attr-defined]
    state["dangling"] = set(threading._dangling)  # type: ignore[attr-defined]
    # membership as the WeakSet itself computes it (its entries must hash as they are found)
    state["dangling_found"] = [t in threading._dangling for t in threading.enumerate()]  # type: ignore[attr-defined]
    state["atexits"] = list(threading._threading_atexits)  # type: ignore[attr-defined]
    state["threads_queues"] = dict(cft._threads_queues)  # type: ignore[attr-defined]
    state["cft_shutdown"] = cft._shutdown  # type: ignore[attr-defined]
    state["gc"] = gc.isenabled()
    state["datetime"] = dict(datetime.datetime.__dict__)  # its now/utcnow are replaced in the type itself
    return state


def assert_same(before: Dict[str, Any], after: Dict[str, Any]) -> None:
    for mod in MODULES:
        b, a = before[mod.__name__], after[mod.__name__]
        assert set(a) == set(b), f"{mod.__name__}: names added/removed: {set(a) ^ set(b)}"
        changed = [k for k in b if a[k] is not b[k] and not (k == "_counter" and mod is threading)]
        assert not changed, f"{mod.__name__}: not restored: {changed}"
    assert set(after["Thread"]) == set(before["Thread"])
    assert all(after["Thread"][k] is v for k, v in before["Thread"].items())
    assert set(after["datetime"]) == set(before["datetime"])
    assert all(after["datetime"][k] is v for k, v in before["datetime"].items()), "datetime.datetime not restored"
    for key in ("trace", "profile"):
        assert after[key] is before[key], key
    for key in ("tools", "tool_events", "random", "active", "limbo", "dangling", "dangling_found", "atexits",
                "threads_queues", "cft_shutdown", "gc"):
        assert after.get(key) == before.get(key), key


def real_threads_work() -> None:
    """Real threads, locks, queues, sleeps and executors, outside any run."""
    q: queue.Queue = queue.Queue()
    lock = threading.Lock()
    ev = threading.Event()
    out: List[int] = []

    def worker() -> None:
        with lock:
            out.append(threading.get_ident())
        q.put(1)
        ev.set()

    t = threading.Thread(target=worker)
    t.start()
    assert ev.wait(10)
    assert q.get(timeout=10) == 1
    t.join(10)
    assert not t.is_alive()
    assert out and out[0] != threading.get_ident() and out[0] == t.ident
    start = time.monotonic()
    time.sleep(0.01)
    assert time.monotonic() - start >= 0.005
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(abs, [-1, -2])) == [1, 2]
    sq: queue.SimpleQueue = queue.SimpleQueue()
    assert type(sq).__module__ == "_queue"


def racy() -> None:
    box = [0]

    def inc() -> None:
        box[0] = box[0] + 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box[0] == 2


def uses_everything() -> None:
    lock, rlock, sem = threading.Lock(), threading.RLock(), threading.BoundedSemaphore(2)
    cond, ev, barrier = threading.Condition(), threading.Event(), threading.Barrier(2)
    q: queue.Queue = queue.Queue()
    sq: queue.SimpleQueue = queue.SimpleQueue()
    local = threading.local()
    local.x = 1

    def worker() -> None:
        with lock, rlock, sem:
            q.put(1)
            sq.put(2)
        with cond:
            cond.notify_all()
        barrier.wait()
        ev.set()
        time.sleep(1)

    t = threading.Thread(target=worker)
    t.start()
    barrier.wait()
    ev.wait()
    assert q.get() == 1 and sq.get() == 2
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(time.sleep, 0.5)
    threading.Timer(0.1, lambda: None).start()
    t.join()


class Boom(Strategy):
    """A strategy that breaks in the middle of an execution."""

    name = "boom"

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        raise RuntimeError("strategy bug")


def in_excluded_module() -> Callable[[], Any]:
    # A body whose code is all standard library: interleave must refuse, not pass.
    import json

    return lambda: json.dumps({"a": 1})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["passes", "fails", "replay", "raises-instrumentation", "raises-internal",
                                  "raises-option", "interrupted"])
def test_everything_is_restored(case: str, backend: str) -> None:
    before = snapshot()
    if case == "passes":
        r = interleave.explore(uses_everything, executions=50, seed=1, backend=backend)
        assert r.failure is None, r.failure.report
    elif case == "fails":
        r = interleave.explore(racy, executions=500, seed=1, backend=backend)
        assert r.failure is not None
        with pytest.raises(interleave.InterleaveFailure):
            r.raise_for_failure()
    elif case == "replay":
        r = interleave.explore(racy, executions=500, seed=1, backend=backend)
        assert r.failure is not None
        assert_same(before, snapshot())
        again = interleave.replay(racy, r.failure.token, backend=backend)
        assert again.failure is not None
    elif case == "raises-instrumentation":
        body = in_excluded_module()
        with pytest.raises(interleave.InstrumentationError):
            interleave.explore(body, executions=5, backend=backend, exclude=[__file__])
    elif case == "raises-internal":
        with pytest.raises(RuntimeError, match="strategy bug"):
            interleave.explore(racy, executions=5, strategy=Boom(), backend=backend)
    elif case == "interrupted":
        def interrupted() -> None:
            t = threading.Thread(target=time.sleep, args=(5,))
            t.start()
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C during the run

        with pytest.raises(KeyboardInterrupt):
            interleave.explore(interrupted, executions=5, backend=backend)
    elif case == "raises-option":
        with pytest.raises(interleave.OptionError):
            interleave.explore(racy, executions=5, backend="no-such-backend")
    assert_same(before, snapshot())
    real_threads_work()


def test_prerun_thread_local_keeps_its_value_for_the_calling_thread() -> None:
    loc = threading.local()
    loc.value = "outside"
    seen: List[Any] = []

    def body() -> None:
        seen.append(getattr(loc, "value", None))
        loc.value = "inside"  # the body is the calling thread: this is its own slot

        def worker() -> None:
            seen.append(getattr(loc, "value", None))  # a new thread: nothing set yet

        t = threading.Thread(target=worker)
        t.start()
        t.join()

    interleave.explore(body, executions=3, seed=1)
    assert seen[:2] == ["outside", None]
    assert loc.value == "inside"


def test_nested_explore_is_refused() -> None:
    errors: List[BaseException] = []

    def inner() -> None:
        pass

    def outer() -> None:
        try:
            interleave.explore(inner, executions=1)
        except interleave.NestedExploreError as exc:
            errors.append(exc)
            raise

    token = interleave.explore(racy, executions=500, seed=1).failure.token  # type: ignore[union-attr]
    before = snapshot()
    # A misuse, not a finding: the error itself leaves explore (no report, no token).
    with pytest.raises(interleave.NestedExploreError):
        interleave.explore(outer, executions=1, seed=1)
    assert errors and "nested" in str(errors[0]).lower()
    assert_same(before, snapshot())
    with pytest.raises(interleave.NestedExploreError):
        interleave.explore(lambda: interleave.replay(racy, token), executions=1)
    assert_same(before, snapshot())
    assert interleave.explore(inner, executions=2).failure is None


def test_explore_from_a_non_main_thread_is_restored_too() -> None:
    out: List[Any] = []
    before = snapshot()

    def runner() -> None:
        r = interleave.explore(racy, executions=300, seed=2)
        out.append(r.failure is not None)

    t = threading.Thread(target=runner)
    t.start()
    t.join(60)
    assert out == [True]
    after = snapshot()
    after["active"] = {k: v for k, v in after["active"].items() if v is not t}
    before["active"] = {k: v for k, v in before["active"].items() if v is not t}
    after["dangling"] = before["dangling"] = set()
    assert_same(before, after)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_monitoring_tool_in_use_by_someone_else_is_left_alone() -> None:
    mon = sys.monitoring
    free = [i for i in range(6) if mon.get_tool(i) is None]
    taken = free[0]
    mon.use_tool_id(taken, "someone-else")
    try:
        r = interleave.explore(racy, executions=300, seed=1)
        assert r.failure is not None
        assert mon.get_tool(taken) == "someone-else"
    finally:
        mon.free_tool_id(taken)


class _ClaimsATool:
    """A body that claims a free sys.monitoring tool id with a LINE callback (coverage started in it),
    and changes the events and a callback of a tool that was there before it."""

    def __init__(self, mine: int, theirs: int) -> None:
        self.mine, self.theirs = mine, theirs
        self.lines = 0

    def count(self, code: Any, line: int) -> None:
        self.lines += 1

    def __call__(self) -> None:
        mon = sys.monitoring
        mon.use_tool_id(self.mine, "coverage-in-the-body")  # raises if an execution before left it claimed
        mon.register_callback(self.mine, mon.events.LINE, self.count)
        mon.set_events(self.mine, mon.events.LINE)
        mon.set_events(self.theirs, mon.events.PY_START | mon.events.LINE)
        mon.register_callback(self.theirs, mon.events.LINE, self.count)
        box = [0]

        def inc() -> None:  # two threads on one list: more than one execution under DPOR too
            box[0] += 1

        run_threads(inc, inc)


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "dpor", "portfolio"])
def test_monitoring_tools_the_body_claims_or_changes_are_put_back(strategy: str, backend: str) -> None:
    """Each execution starts with the tool ids as the run found them, and after the run nothing the
    body registered fires: its tool is free, the other tool has its events and callback back."""
    mon = sys.monitoring
    free = [i for i in range(6) if mon.get_tool(i) is None]
    theirs, mine = free[-1], free[-2]
    theirs_calls: List[int] = []

    def theirs_line(code: Any, line: int) -> None:
        theirs_calls.append(line)

    mon.use_tool_id(theirs, "there-before")
    mon.register_callback(theirs, mon.events.LINE, theirs_line)
    try:
        before = snapshot()
        body = _ClaimsATool(mine, theirs)
        r = interleave.explore(body, executions=5, seed=0, strategy=strategy, backend=backend)
        after = snapshot()
        assert r.failure is None, r.failure.report
        assert r.executions > 1
        assert_same(before, after)
        assert mon.get_tool(mine) is None and mon.get_tool(theirs) == "there-before"
        assert mon.register_callback(theirs, mon.events.LINE, theirs_line) is theirs_line
        counted = body.lines
        mon.set_events(theirs, mon.events.LINE)  # the old tool's callback is the one that fires
        x = 1
        x += 1
        mon.set_events(theirs, 0)
        assert body.lines == counted and theirs_calls
    finally:
        mon.set_events(theirs, 0)
        mon.register_callback(theirs, mon.events.LINE, None)
        mon.free_tool_id(theirs)


def test_foreign_trace_function_is_restored() -> None:
    calls: List[str] = []

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        calls.append(event)
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        interleave.explore(racy, executions=50, seed=1, backend="settrace")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(old)


def _hook(*args: Any) -> None:
    return None


class _SwitchesProcessSettings:
    """A body that starts two threads, then turns the collector on or off and sets threading's hooks."""

    def __init__(self, collector: bool) -> None:
        self.collector = collector
        self.seen: List[Tuple[Any, Any, bool]] = []

    def __call__(self) -> None:
        self.seen.append((threading._trace_hook, threading._profile_hook, gc.isenabled()))  # type: ignore[attr-defined]
        box = [0]

        def inc() -> None:
            box[0] += 1

        ts = [threading.Thread(target=inc) for _ in range(2)]  # left over, the hooks would be set in them
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        (gc.enable if self.collector else gc.disable)()
        threading.settrace(_hook)
        threading.setprofile(_hook)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "dpor", "portfolio"])
@pytest.mark.parametrize("collector", [True, False], ids=["gc-was-off", "gc-was-on"])
def test_process_settings_the_body_switches_are_undone_after_each_execution(
        collector: bool, strategy: str, backend: str) -> None:
    """gc.enable()/disable() and threading.settrace()/setprofile() in the body: gone after the run,
    and every execution starts without them (a hook left over reached the next executions' threads)."""
    was = gc.isenabled()
    (gc.disable if collector else gc.enable)()
    try:
        before = snapshot()
        body = _SwitchesProcessSettings(collector)
        r = interleave.explore(body, executions=5, seed=0, strategy=strategy, backend=backend)
        after = snapshot()
    finally:
        (gc.enable if was else gc.disable)()
    assert r.failure is None, r.failure.report
    assert_same(before, after)
    assert len(body.seen) > 1
    assert set(body.seen) == {(None, None, False)}, body.seen


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_profiler_the_body_installs_may_ask_for_the_thread_ident(backend: str) -> None:
    """Thread-aware profilers call get_ident() at every event, the scheduler's own calls included."""
    idents: List[int] = []

    def profiler(frame: Any, event: str, arg: Any) -> None:
        idents.append(threading.get_ident())

    def body() -> None:
        sys.setprofile(profiler)
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()

    before = snapshot()
    r = interleave.explore(body, executions=5, seed=1, backend=backend)
    after = snapshot()
    assert r.failure is None, r.failure.report
    assert idents and len(set(idents)) >= 2, "the virtual threads' idents"
    assert_same(before, after)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_signal_handlers_and_the_signal_mask_the_body_changes_are_put_back(backend: str) -> None:
    """A blocked SIGINT left behind would make every later Ctrl-C do nothing."""
    import signal

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        pytest.skip("signal handlers change on the main thread only; pthread_sigmask is POSIX")
    handler_before = signal.getsignal(signal.SIGUSR1)
    mask_before = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    def body() -> None:
        signal.signal(signal.SIGUSR1, lambda signum, frame: None)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGUSR2])
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()

    try:
        r = interleave.explore(body, executions=3, seed=1, backend=backend)
        assert r.failure is None, r.failure.report
        assert signal.getsignal(signal.SIGUSR1) == handler_before
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask_before
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGUSR1, handler_before)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask_before)


def _resets_every_monitoring_tool() -> None:
    """A profiler's reset inside the body: every tool's events off, then a lost update."""
    mon = sys.monitoring
    for tool in range(6):
        if mon.get_tool(tool) is not None:
            mon.set_events(tool, 0)
    programs.lost_update()


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "exhaustive", "dpor"])
def test_a_body_that_turns_interleave_s_monitoring_off_gets_no_proof(strategy: str, backend: str) -> None:
    """The call on interleave's tool id is refused and the exploration ends in InstrumentationError
    (its events went off, and exhaustive search and DPOR proved the lost update away); under the
    settrace back-end the reset touches nothing of interleave's and the race is found."""
    before = snapshot()
    if backend == "auto":
        with pytest.raises(interleave.InstrumentationError, match=r"sys\.monitoring\.set_events"):
            interleave.explore(_resets_every_monitoring_tool, executions=200, seed=1, strategy=strategy)
    else:
        r = interleave.explore(_resets_every_monitoring_tool, executions=200, seed=1, strategy=strategy,
                               backend=backend)
        assert r.failure is not None, r.verdict
    assert_same(before, snapshot())


@pytest.mark.timeout(120)
@pytest.mark.skipif(not os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children"),
                    reason="the kernel's list of a thread's child processes (Linux) is how they are found")
@pytest.mark.parametrize("where", ["body", "thread"])
def test_a_subprocess_the_run_left_running_is_stopped(where: str) -> None:
    """Leave no trace: a child process started with subprocess and never waited for is stopped."""
    import subprocess

    started: List[Any] = []

    def start() -> None:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))

    def body() -> None:
        if where == "body":
            start()
        t = threading.Thread(target=start if where == "thread" else (lambda: None))
        t.start()
        t.join()

    outside = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not the run's
    try:
        interleave.explore(body, executions=2, seed=0)
        assert len(started) == 2
        for proc in started:
            assert proc.wait(timeout=10) is not None  # stopped: wait() returns at once
        assert outside.poll() is None  # still running
    finally:
        for proc in started + [outside]:
            proc.kill()
            proc.wait()
