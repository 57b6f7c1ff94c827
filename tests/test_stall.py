"""The last-resort guard: a run stuck where no switch point sees it ends as inconclusive, never hangs."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import Any, Callable, Dict, List

import pytest
from test_restore import assert_same, snapshot
from uninstrumented_spin import spin_forever

import interleave
from interleave.runtime import watchdog

SPIN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "uninstrumented_spin.py")
on_main_thread = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="a call blocked in the kernel can be broken by a signal, which reaches the main thread only")


def spins_in_uninstrumented_code() -> None:
    t = threading.Thread(target=spin_forever)
    t.start()
    t.join()


def test_a_loop_in_code_that_is_not_traced_ends_as_stalled_with_its_line() -> None:
    before = snapshot()
    with pytest.raises(interleave.StalledRunError) as info:
        interleave.explore(spins_in_uninstrumented_code, executions=5, seed=0, exclude=[SPIN_FILE],
                           stall_timeout=0.5)
    message = str(info.value)
    assert "inconclusive" in message and "Thread-1" in message
    assert "uninstrumented_spin.py:9" in message, message
    assert "stall_timeout" in message
    assert_same(before, snapshot())


def test_a_stall_is_interrupted_when_explore_runs_on_another_thread() -> None:
    out: Dict[str, Any] = {}

    def hunt() -> None:
        try:
            interleave.explore(spins_in_uninstrumented_code, executions=5, seed=0, exclude=[SPIN_FILE],
                               stall_timeout=0.5)
            out["result"] = "returned"
        except BaseException as exc:  # noqa: BLE001 - what it raised is the point
            out["result"] = exc

    t = threading.Thread(target=hunt, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "explore on a non-main thread hung in a stalled run"
    assert isinstance(out.get("result"), interleave.StalledRunError), out


@pytest.fixture
def quick_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "BLOCKED_SECONDS", 0.5)


def blocked_message_of_a_thread_running(target: Any) -> str:
    """Explore a body whose one thread runs ``target``: the RealBlockingError's text (nothing left behind)."""
    def body() -> None:
        t = threading.Thread(target=target)
        t.start()
        t.join()

    before = snapshot()
    with pytest.raises(interleave.RealBlockingError) as info:
        interleave.explore(body, executions=3, seed=0)
    assert_same(before, snapshot())
    return str(info.value)


@on_main_thread
def test_a_thread_blocked_in_real_io_ends_as_real_blocking_naming_the_call(quick_block: None) -> None:
    r, w = os.pipe()
    try:
        def reader() -> None:
            os.read(r, 1)  # nobody ever writes: blocks the only OS thread for real

        message = blocked_message_of_a_thread_running(reader)
        assert "os.read()" in message and "real I/O" in message and "fake" in message, message
        assert "test_stall.py" in message
    finally:
        os.close(r)
        os.close(w)


@on_main_thread
def test_real_blocking_names_the_call_not_a_name_its_loop_condition_loaded(quick_block: None) -> None:
    r, w = os.pipe()
    try:
        def reader() -> None:
            remaining = 4
            while remaining > 0:  # loads ``remaining`` right before the call, in the code's order
                got = os.read(r, remaining)
                remaining -= len(got)

        message = blocked_message_of_a_thread_running(reader)
        assert "in a call to os.read()" in message and "remaining()" not in message, message
    finally:
        os.close(r)
        os.close(w)


@on_main_thread
def test_real_blocking_names_the_inner_call_whose_result_an_outer_one_takes(quick_block: None) -> None:
    r, w = os.pipe()
    try:
        def reader() -> None:
            got: list = []
            got.append(os.read(r, 1))  # blocked in os.read: the outer call was named

        message = blocked_message_of_a_thread_running(reader)
        assert "in a call to os.read()" in message and "got.append()" not in message, message
    finally:
        os.close(r)
        os.close(w)


@on_main_thread
def test_real_blocking_names_the_call_not_a_name_an_earlier_statement_loaded(quick_block: None) -> None:
    r, w = os.pipe()
    box = {"x": 0}
    try:
        def reader() -> None:
            box["x"] += 1  # loads ``box`` and calls nothing: it was named as the blocked call
            os.read(r, 1)

        message = blocked_message_of_a_thread_running(reader)
        assert "in a call to os.read()" in message and "box()" not in message, message
    finally:
        os.close(r)
        os.close(w)


@on_main_thread
@pytest.mark.timeout(60)
def test_a_blocked_thread_caught_running_once_is_still_blocked(quick_block: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded machine (or a loop that waits in short real slices) the kernel may show the
    blocked thread runnable at one look: that must not make it count as computing for ever."""
    looks: List[bool] = []

    def runnable_once(self: watchdog.Watchdog) -> bool:
        looks.append(True)
        return len(looks) == 1

    monkeypatch.setattr(watchdog.Watchdog, "_runnable", runnable_once)
    r, w = os.pipe()
    try:
        def body() -> None:
            t = threading.Thread(target=lambda: os.read(r, 1))
            t.start()
            t.join()

        with pytest.raises(interleave.RealBlockingError, match="os.read"):
            interleave.explore(body, executions=3, seed=0)
        assert len(looks) > 1
    finally:
        os.close(r)
        os.close(w)


@on_main_thread
@pytest.mark.timeout(60)
def test_an_event_loop_waiting_for_real_io_and_a_timer_ends_as_real_blocking(quick_block: None) -> None:
    """A loop that watches a real socket waits for real; its selector comes back every 50 ms for
    its timer against a clock that stands still (the watchdog must still see it blocked)."""
    a, b = socket.socketpair()
    a.setblocking(False)  # as asyncio wants its sockets
    try:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(loop.sock_recv(a, 1), 0.05)  # nobody writes to b

        message = blocked_message_of_a_thread_running(lambda: asyncio.run(main()))
        assert "asyncio event loop" in message and "for real I/O" in message, message
        assert "for its next timer" in message and "virtual clock" in message, message
    finally:
        a.close()
        b.close()


@on_main_thread
@pytest.mark.timeout(60)
@pytest.mark.parametrize("taken", ["before the run", "by the body"])
def test_real_blocking_is_broken_even_when_the_usr_signals_are_taken(taken: str, quick_block: None) -> None:
    """The program handles SIGUSR1 and SIGUSR2 (or faulthandler.register does, unseen): the
    watchdog's signal must still reach the blocked call, and every handler is put back."""
    import signal

    mine = {s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGUSR2)}

    def take() -> None:
        for s in mine:
            signal.signal(s, lambda signum, frame: None)

    a, b = socket.socketpair()
    try:
        def body() -> None:
            if taken == "by the body":
                take()
            t = threading.Thread(target=lambda: a.recv(1))  # nobody ever sends
            t.start()
            t.join()

        if taken == "before the run":
            take()
        taken_handlers = {s: signal.getsignal(s) for s in mine}
        with pytest.raises(interleave.RealBlockingError):
            interleave.explore(body, executions=3, seed=0)
        expected = taken_handlers if taken == "before the run" else mine
        assert {s: signal.getsignal(s) for s in mine} == expected
    finally:
        a.close()
        b.close()
        for s, h in mine.items():
            signal.signal(s, h)


@on_main_thread
@pytest.mark.timeout(60)
def test_processes_an_inconclusive_run_left_running_are_stopped(quick_block: None) -> None:
    """A process pool in the body blocks for real (its pipes); its worker processes must not
    outlive the run: multiprocessing would wait for them at interpreter exit, for ever."""
    import concurrent.futures as cf
    import multiprocessing

    before = set(multiprocessing.active_children())

    def body() -> None:
        with cf.ProcessPoolExecutor(max_workers=2) as pool:
            assert list(pool.map(abs, [-1, -2])) == [1, 2]

    with pytest.raises(interleave.RealBlockingError):
        interleave.explore(body, executions=3, seed=0)
    assert set(multiprocessing.active_children()) <= before


@on_main_thread
def test_a_socket_accept_nobody_connects_to_ends_as_real_blocking(quick_block: None) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    seen: List[str] = []
    try:
        def body() -> None:
            def serve() -> None:
                seen.append("accepting")
                server.accept()

            t = threading.Thread(target=serve)
            t.start()
            t.join()

        with pytest.raises(interleave.RealBlockingError) as info:
            interleave.explore(body, executions=3, seed=0)
        assert "accept" in str(info.value), str(info.value)
        assert seen == ["accepting"]
    finally:
        server.close()


@on_main_thread
def test_an_event_loop_watching_a_real_socket_ends_as_real_blocking_that_names_the_loop(quick_block: None) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        def body() -> None:
            async def main() -> bytes:
                return await asyncio.get_running_loop().sock_recv(a, 1)  # nobody writes to b

            asyncio.run(main())

        before = snapshot()
        with pytest.raises(interleave.RealBlockingError) as info:
            interleave.explore(body, executions=3, seed=0)
        message = str(info.value)
        assert "asyncio event loop" in message and "for real I/O" in message, message
        assert "in-memory stream" in message
        assert "for its next timer" not in message
        assert_same(before, snapshot())
    finally:
        a.close()
        b.close()


def test_stall_timeout_is_validated() -> None:
    with pytest.raises(interleave.OptionError, match="stall_timeout"):
        interleave.explore(lambda: None, stall_timeout="soon")  # type: ignore[arg-type]


@pytest.mark.skipif(not os.path.exists(f"/proc/self/task/{threading.get_native_id()}/stat"),
                    reason="the kernel's run state is read from /proc (Linux)")
def test_a_thread_waiting_for_a_cpu_is_never_taken_for_a_blocked_one() -> None:
    """The watchdog asks the kernel whether the watched thread is runnable.

    Measured by CPU share alone, a computing thread on a machine with many more runnable
    processes than cores looked idle (under a tenth of a CPU) and a correct run ended in
    RealBlockingError. Runnable ("R") must read as not blocked; sleeping on a lock must not.
    """
    dog = watchdog.Watchdog(threading.get_ident(), lambda: [])
    seen: Dict[str, bool] = {}
    lock = threading.Lock()
    lock.acquire()
    spinning = threading.Event()

    def observe() -> None:
        spinning.wait(10)
        seen["spinning"] = any(dog._runnable() for _ in range(50))
        lock.release()  # lets the main thread block next
        blocked.wait(10)
        import time

        time.sleep(0.2)  # the main thread is now asleep in acquire()
        seen["blocked"] = dog._runnable()
        lock.release()

    blocked = threading.Event()
    t = threading.Thread(target=observe, daemon=True)
    t.start()
    spinning.set()
    while not lock.acquire(False):  # computes until the observer has looked
        pass
    blocked.set()
    assert lock.acquire(True, 10)
    t.join(10)
    assert seen == {"spinning": True, "blocked": False}


@on_main_thread
@pytest.mark.timeout(60)
def test_a_multiprocessing_thread_pool_is_named_with_the_executor_to_use_instead(quick_block: None) -> None:
    def body() -> None:
        from multiprocessing.pool import ThreadPool

        with ThreadPool(2) as pool:
            assert pool.map(abs, [-1, -2]) == [1, 2]

    before = snapshot()
    with pytest.raises(interleave.RealBlockingError) as info:
        interleave.explore(body, executions=3, seed=0)
    message = str(info.value)
    assert "multiprocessing pool" in message and "ThreadPoolExecutor" in message, message
    assert "a socket, pipe, subprocess" not in message
    assert_same(before, snapshot())


@on_main_thread
@pytest.mark.timeout(60)
def test_a_library_s_multiprocessing_pool_names_the_library(quick_block: None, tmp_path: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The code under test never touched multiprocessing: the library that did is the one to name."""
    lib = tmp_path / "site-packages"
    lib.mkdir()
    (lib / "poolwrap.py").write_text(
        "from multiprocessing.pool import ThreadPool\n\n\n"
        "def run_all(fn, items):\n"
        "    with ThreadPool(2) as pool:\n"
        "        return pool.map(fn, items)\n")
    monkeypatch.syspath_prepend(str(lib))
    import poolwrap  # type: ignore[import-not-found]

    def body() -> None:
        assert poolwrap.run_all(abs, [-1, -2]) == [1, 2]

    with pytest.raises(interleave.RealBlockingError) as info:
        interleave.explore(body, executions=3, seed=0)
    message = " ".join(str(info.value).split())
    assert "multiprocessing pool (multiprocessing.pool.ThreadPool or multiprocessing.dummy.Pool), reached through " \
        "poolwrap (poolwrap.py:6)" in message, message
    assert "Fix: poolwrap runs its work on such a pool here" in message, message


def _gil_holding_call_of(seconds: float) -> Callable[[], int]:
    """A builtin that computes for about ``seconds`` and never lets another thread run meanwhile."""
    n = 1_000_000
    while True:
        start = time.perf_counter()
        sum(range(n))
        if time.perf_counter() - start >= seconds:
            return lambda: sum(range(n))
        n *= 2


@pytest.mark.timeout(120)
def test_a_call_that_holds_the_interpreter_past_the_stall_timeout_is_a_stall() -> None:
    # The watchdog cannot run while such a call runs, and the call has returned by the time it
    # can: it was taken for progress, and explorations of such code ran on without end.
    call = _gil_holding_call_of(0.8)

    def body() -> None:
        t = threading.Thread(target=call)
        t.start()
        t.join()

    before = snapshot()
    with pytest.raises(interleave.StalledRunError, match="held the interpreter") as info:
        interleave.explore(body, executions=50, seed=0, stall_timeout=0.3)
    assert "stall_timeout" in str(info.value) and "Thread-1" in str(info.value)
    assert_same(before, snapshot())


@on_main_thread
@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["auto", "settrace"])
def test_real_blocking_ends_the_run_even_when_a_library_loop_swallows_the_error(quick_block: None,
                                                                                 backend: str) -> None:
    """A worker loop not under test that catches any Exception and blocks again (loguru's queued
    writer): interrupted once, it ends the execution the second time instead of looping for ever."""
    from uninstrumented_spin import read_until_x_swallowing

    r, w = os.pipe()
    try:
        def body() -> None:
            t = threading.Thread(target=read_until_x_swallowing, args=(r,))
            t.start()
            t.join()

        before = snapshot()
        started = time.monotonic()
        with pytest.raises(interleave.RealBlockingError) as info:
            interleave.explore(body, executions=3, seed=0, exclude=[SPIN_FILE], backend=backend)
        assert time.monotonic() - started < 20
        assert "os.read()" in str(info.value) or "read" in str(info.value)
        assert_same(before, snapshot())
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.timeout(60)
def test_a_stall_ends_the_run_even_when_a_library_loop_swallows_the_error() -> None:
    from uninstrumented_spin import spin_swallowing

    def body() -> None:
        t = threading.Thread(target=spin_swallowing)
        t.start()
        t.join()

    before = snapshot()
    with pytest.raises(interleave.StalledRunError):
        interleave.explore(body, executions=3, seed=0, exclude=[SPIN_FILE], stall_timeout=0.5)
    assert_same(before, snapshot())
