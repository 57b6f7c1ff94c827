"""Threads that each run their own asyncio event loop (sync wrappers around async libraries).

asyncio's C accelerator caches "the running loop" per OS thread, and all virtual threads share
one: a second thread's ``asyncio.run`` saw the first one's loop and raised "cannot be called
from a running event loop" on every execution. Inside a run asyncio keeps its running loop per
virtual thread.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any, Dict, List

import pytest

import interleave

pytestmark = pytest.mark.timeout(120)

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


async def job(i: int, shared: Dict[str, int], locked: bool) -> int:
    await asyncio.sleep(0)
    assert asyncio.current_task() is not None
    q: asyncio.Queue[int] = asyncio.Queue()
    await asyncio.gather(q.put(i), asyncio.sleep(0))
    if locked:
        with LOCK:
            shared["n"] += 1
    else:
        shared["n"] += 1
    return await q.get()


LOCK = threading.Lock()


def two_loops(locked: bool) -> None:
    shared = {"n": 0}
    out: List[int] = []

    def worker(i: int) -> None:
        out.append(asyncio.run(job(i, shared, locked)))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(out) == [0, 1], out
    assert shared["n"] == 2, shared


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "pct", "dpor", "portfolio"])
def test_each_thread_runs_its_own_event_loop(strategy: str, backend: str) -> None:
    r = interleave.explore(lambda: two_loops(True), executions=40, seed=0, strategy=strategy, backend=backend)
    assert r.failure is None, r.failure.report


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_race_between_two_threads_event_loops_is_found(backend: str) -> None:
    r = interleave.explore(lambda: two_loops(False), executions=500, seed=0, backend=backend)
    assert r.failure is not None and isinstance(r.failure.exception, AssertionError), r.verdict
    assert "'n': 1" in str(r.failure.exception)


def test_asyncio_is_itself_again_after_the_run() -> None:
    import asyncio.events as events

    before = (events.get_running_loop, events._get_running_loop, asyncio.get_running_loop, asyncio.current_task)
    interleave.explore(lambda: two_loops(True), executions=3, seed=0)
    assert (events.get_running_loop, events._get_running_loop, asyncio.get_running_loop,
            asyncio.current_task) == before
    assert asyncio.run(asyncio.sleep(0, result=5)) == 5


def loops_through_bound_names() -> None:
    import asyncio_bound_names as bound

    seen: List[int] = []

    def worker() -> None:
        async def main() -> None:
            # The loop the names report is the one running this thread's coroutine, not another's.
            assert await bound.whose_loop() == id(asyncio.get_running_loop())
            seen.append(id(asyncio.get_running_loop()))

        asyncio.run(main())

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    asyncio.run(main_alone())
    for t in ts:
        t.join()
    assert len(seen) == 2


async def main_alone() -> None:
    import asyncio_bound_names as bound

    assert await bound.whose_loop() == id(asyncio.get_running_loop())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "pct", "dpor", "portfolio"])
def test_names_bound_from_asyncio_at_import_see_the_thread_s_own_loop(strategy: str, backend: str) -> None:
    """``from asyncio import get_running_loop, current_task`` (anyio does it) read the C accelerator's
    per-OS-thread cache: "no running event loop" inside asyncio.run, or another thread's loop."""
    import asyncio_bound_names as bound

    asyncio.run(main_alone())  # a real loop first: the C cache then holds a stale entry
    before = (bound.get_running_loop, bound.current_task)
    for _ in range(2):  # a second exploration in the same process too
        r = interleave.explore(loops_through_bound_names, executions=30, seed=0, strategy=strategy,
                               backend=backend)
        assert r.failure is None, r.failure.report
    assert (bound.get_running_loop, bound.current_task) == before
    asyncio.run(main_alone())


LATE_IMPORT = '''
import sys, threading
assert "asyncio" not in sys.modules, "this program must import asyncio itself, inside the run"
import interleave

finders = list(sys.meta_path)

def body():
    import asyncio  # first imported here, inside the run (as a library's lazy backend does)

    async def job():
        await asyncio.sleep(0.01)  # a timer: the loop waits in its selector, in virtual time
        return await asyncio.to_thread(lambda: 7)

    out = []
    ts = [threading.Thread(target=lambda: out.append(asyncio.run(job()))) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == [7, 7], out

for strategy in ("random", "pct", "dpor"):
    r = interleave.explore(body, executions=20, seed=0, strategy=strategy, stall_timeout=30)
    assert r.failure is None, r.failure.report
import asyncio, asyncio.events, selectors
assert sys.meta_path == finders, sys.meta_path
assert asyncio.events.get_running_loop is asyncio.events._c_get_running_loop
assert "virtual" not in selectors.DefaultSelector.select.__qualname__
assert asyncio.run(asyncio.sleep(0, result=5)) == 5
print("ok")
'''


def test_asyncio_first_imported_inside_the_run_is_patched_when_its_import_ends(tmp_path: Any) -> None:
    """anyio imports asyncio on first use: inside the run, after the session patched what was there.
    Its loops then waited in the real selector ("blocked for real") and shared the C running loop."""
    script = tmp_path / "late_asyncio.py"
    script.write_text(LATE_IMPORT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
