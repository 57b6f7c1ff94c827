"""Run in a child process by test_interrupts.py: Ctrl-C at many moments of a hunt.

Prints one JSON line: how many trials ended in each way, and the first few that went wrong.
"""

from __future__ import annotations

import _thread
import faulthandler
import json
import queue
import sys
import threading
import time
from typing import Any, Dict, List

import interleave

_local = threading.local()


def correct() -> None:
    lock = threading.Lock()
    box = [0]

    def inc() -> None:
        for _ in range(3):
            with lock:
                box[0] += 1

    ts = [threading.Thread(target=inc) for _ in range(3)]  # DPOR needs 1,680 executions to prove it
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box[0] == 9


def buggy() -> None:
    box = [0]

    def inc() -> None:
        for _ in range(2):
            box[0] += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box[0] == 4


def snapshot() -> List[Any]:
    mon = [sys.monitoring.get_tool(i) for i in range(6)] if hasattr(sys, "monitoring") else []
    return [dict(vars(threading)), dict(vars(time)), dict(vars(queue)), dict(vars(_thread)),
            sys.gettrace(), mon, dict(threading._active), dict(threading._limbo)]  # type: ignore[attr-defined]


def trial(body: Any, delay: float, seed: int, strategy: str, backend: str, executions: int,
          time_budget: float) -> str:
    done = threading.Event()
    fired = threading.Event()

    armed = threading.Event()

    def fire() -> None:
        armed.set()
        if not done.wait(delay):
            fired.set()
            _thread.interrupt_main()  # exactly what a SIGINT from the terminal does

    t = threading.Thread(target=fire, daemon=True)
    what = "?"
    try:
        try:
            # Under load a short delay can end before this thread reaches explore: the Ctrl-C
            # then lands here, and counts as an interruption like any other.
            t.start()
            armed.wait()
            r = interleave.explore(body, executions=executions, seed=seed, strategy=strategy,
                                   backend=backend, time_budget=time_budget)
            what = "failure" if r.failure is not None else "passed"
            if r.failure is not None and r.failure.kind != "exception":
                what = f"wrong failure: {r.failure.kind}"
        finally:
            done.set()
            # A Ctrl-C issued just as explore returned arrives here, outside explore: late. The
            # timer thread may be slow to run under load: wait until it has fired or given up,
            # so that its interrupt cannot land after this block (in the join below).
            if t.ident is not None:
                t.join()
            time.sleep(0.01)
    except KeyboardInterrupt:
        what = "interrupted" if what == "?" else what + " (interrupt came late)"
    except BaseException as exc:  # noqa: BLE001 - anything else is what this test looks for
        what = f"other: {type(exc).__name__}: {exc}"[:300]
    if t.ident is not None:
        t.join()
    return what


def main() -> None:
    kind, n, span, strategy, backend = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
    body = correct if kind == "correct" else buggy
    _local.value = "mine"
    before = snapshot()
    tally: Dict[str, int] = {}
    wrong: List[str] = []
    for i in range(n):
        delay = span * (i + 1) / n
        # A trial whose Ctrl-C is lost would hunt for an hour: show where it is stuck instead.
        faulthandler.dump_traceback_later(120, exit=True)
        if kind == "correct":  # an endless hunt: every moment lands inside it
            what = trial(body, delay, i, strategy, backend, 10**9, 3600.0)
            ok = what == "interrupted"
        else:  # a hunt that finds, shrinks and reports a failure: Ctrl-C anywhere in it
            what = trial(body, delay, i, strategy, backend, 5000, 3600.0)
            ok = what in ("interrupted", "failure", "failure (interrupt came late)")
        restored = snapshot() == before and getattr(_local, "value", None) == "mine"
        tally[what] = tally.get(what, 0) + 1
        if not ok or not restored:
            wrong.append(f"trial {i} at {delay:.3f} s: {what}; restored={restored}")
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps({"tally": tally, "wrong": wrong[:5], "trials": n}))


if __name__ == "__main__":
    main()
