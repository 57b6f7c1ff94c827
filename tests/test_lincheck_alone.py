"""The spec run alone by the linearizability search: a call that blocks or spins is reported, Ctrl-C works."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from hypothesis import strategies as st

import interleave
from interleave import lincheck
from interleave.errors import InconclusiveError
from interleave.lincheck import alone
from interleave.lincheck.alone import SpecCallStuck

pytestmark = pytest.mark.timeout(120)


class Chan:
    """A channel: ``get`` waits for a ``put``. Run alone, the spec's ``get`` on an empty queue waits for ever."""

    def __init__(self) -> None:
        self.q: queue.Queue[int] = queue.Queue()

    def put(self, x: int) -> None:
        self.q.put(x)

    def get(self) -> int:
        return self.q.get()


class Flag:
    """``wait_ready`` spins until ``set_ready`` ran: run alone first, it spins for ever."""

    def __init__(self) -> None:
        self.ready = False

    def set_ready(self) -> None:
        self.ready = True

    def wait_ready(self) -> bool:
        while not self.ready:
            pass
        return True


def test_a_spec_call_that_blocks_is_reported_by_name() -> None:
    with pytest.raises(SpecCallStuck) as info:
        lincheck.check(Chan, [lincheck.op(Chan.put, st.integers(0, 1)), lincheck.op(Chan.get)], threads=2,
                       ops_per_thread=1, scenarios=50, executions=50, seed=0)
    text = str(info.value)
    assert "get() blocks when run alone" in text and "do not block" in text
    assert "in get" in text  # where: the spec's own frame
    assert isinstance(info.value, InconclusiveError)  # not a finding about the class
    # The parked helper is left behind; the next check gets a new one.
    ok = lincheck.check(Flag, [lincheck.op(Flag.set_ready)], threads=2, ops_per_thread=1, scenarios=3, executions=5,
                        seed=0)
    assert ok.failure is None


def _spinning_spec_threads() -> int:
    return sum(1 for f in sys._current_frames().values() if f.f_code is Flag.wait_ready.__code__)


def test_a_spec_call_that_spins_is_stopped_and_reported(monkeypatch: Any) -> None:
    monkeypatch.setattr(alone, "SPEC_CALL_SECONDS", 0.5)
    with pytest.raises(SpecCallStuck, match=r"wait_ready\(\) did not return within 0.5 s"):
        lincheck.check(Flag, [lincheck.op(Flag.set_ready), lincheck.op(Flag.wait_ready)], threads=2,
                       ops_per_thread=1, scenarios=20, executions=20, seed=0)
    # The spinning helper is stopped, not left burning a core.
    deadline = time.monotonic() + 10
    while _spinning_spec_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _spinning_spec_threads() == 0


PARKED_THEN_SIGNAL = textwrap.dedent("""
    import queue, signal, sys
    from hypothesis import strategies as st
    from interleave import lincheck
    from interleave.lincheck.alone import SpecCallStuck

    class Chan:
        def __init__(self): self.q = queue.Queue()
        def put(self, x): self.q.put(x)
        def get(self): return self.q.get()

    try:
        lincheck.check(Chan, [lincheck.op(Chan.put, st.integers(0, 1)), lincheck.op(Chan.get)], threads=2,
                       ops_per_thread=1, scenarios=20, executions=20, seed=0)
    except SpecCallStuck:
        print("STUCK", flush=True)
    sys.settrace(lambda frame, event, arg: None)  # a tracer, as coverage or a debugger installs
    signal.signal(signal.SIGINT, signal.getsignal(signal.SIGINT))
    sys.settrace(None)
    print("SIGNAL", flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="uses signal.signal")
def test_a_helper_left_parked_does_not_stall_the_process(tmp_path: Any) -> None:
    # The parked helper is left parked with nothing pending on it: an asynchronous exception
    # pending on a thread that never runs again made CPython 3.11 spin for ever in the next
    # signal.signal of a traced thread (pytest-timeout's alarm under coverage, say).
    script = tmp_path / "parked_spec.py"
    script.write_text(PARKED_THEN_SIGNAL)
    root = os.path.dirname(os.path.dirname(os.path.abspath(interleave.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.split() == ["STUCK", "SIGNAL"], (proc.stdout, proc.stderr)


def test_the_search_still_runs_without_a_stuck_call() -> None:
    # A channel whose get does not wait: the same scenarios pass.
    class Nowait(Chan):
        def get(self) -> int:
            try:
                return self.q.get_nowait()
            except queue.Empty:
                return -1

    result = lincheck.check(Nowait, [lincheck.op(Nowait.put, st.integers(0, 1)), lincheck.op(Nowait.get)],
                            threads=2, ops_per_thread=2, scenarios=10, executions=30, seed=0)
    assert result.failure is None


CHILD = textwrap.dedent("""
    from interleave import lincheck

    class Flag:
        def __init__(self): self.ready = False
        def set_ready(self): self.ready = True
        def wait_ready(self):
            while not self.ready: pass
            return True

    class Spec(Flag):
        def wait_ready(self):
            print("SPIN", flush=True)
            while not self.ready: pass
            return True

    try:
        lincheck.check(Flag, [lincheck.op(Flag.set_ready), lincheck.op(Flag.wait_ready)], spec=Spec, threads=2,
                       ops_per_thread=1, scenarios=20, executions=20, seed=0)
        print("RETURNED")
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
""")


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_during_a_spinning_spec_call_is_a_keyboard_interrupt(tmp_path: Any) -> None:
    script = tmp_path / "spinning_spec.py"  # a file: code run by -c has no file to instrument
    script.write_text(CHILD)
    root = os.path.dirname(os.path.dirname(os.path.abspath(interleave.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "SPIN"  # the spec spins now, in the search
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.strip() == "KeyboardInterrupt", (out, err)
