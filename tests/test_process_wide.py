"""Process-wide calls from a virtual thread behave as from the thread it stands for.

All virtual threads run on the exploring OS thread, so CPython's own checks see the main thread
everywhere: ``signal.signal`` from a worker must still raise ValueError (it does on every real
run), and ``threading.settrace_all_threads`` must reach the virtual threads, not the process's
other real threads.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, List

import pytest

import interleave

pytestmark = pytest.mark.timeout(120)

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


def sets_a_handler_from_a_worker() -> None:
    def worker() -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a library's shutdown hook

    t = threading.Thread(target=worker)
    t.start()
    t.join()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "dpor", "portfolio"])
def test_signal_signal_from_a_worker_thread_raises_as_on_every_real_run(strategy: str, backend: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers change on the main thread only")
    before = signal.getsignal(signal.SIGTERM)
    r = interleave.explore(sets_a_handler_from_a_worker, executions=5, seed=0, strategy=strategy, backend=backend)
    assert r.failure is not None and isinstance(r.failure.exception, ValueError), r.verdict
    assert "main thread" in str(r.failure.exception)
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.skipif(not hasattr(threading, "settrace_all_threads"), reason="Python 3.12+")
def test_settrace_all_threads_reaches_the_virtual_threads_not_the_real_ones() -> None:
    calls: List[str] = []
    outside: List[Any] = []
    go, done = threading.Event(), threading.Event()

    def real_thread() -> None:  # a thread of the application, running beside the test
        go.wait(30)
        outside.append(sys.gettrace())
        done.set()

    def in_a_virtual_thread() -> None:
        pass

    def tracer(frame: Any, event: str, arg: Any) -> None:
        calls.append(frame.f_code.co_name)

    def body() -> None:
        threading.settrace_all_threads(tracer)  # type: ignore[attr-defined]
        t = threading.Thread(target=in_a_virtual_thread)
        t.start()
        t.join()

    app = threading.Thread(target=real_thread, daemon=True)
    app.start()
    try:
        r = interleave.explore(body, executions=3, seed=0, backend="monitoring")
    finally:
        go.set()
        done.wait(30)
    assert r.failure is None, r.failure.report
    assert "in_a_virtual_thread" in calls, calls
    assert outside == [None], "the application's own thread was given the body's tracer"
    assert sys.gettrace() is None and threading.gettrace() is None  # type: ignore[attr-defined]
