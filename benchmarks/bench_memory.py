"""Memory stays flat over a long hunt: 100,000 executions of a body that defines a class.

A test body often defines a class; each execution then makes a new class object. A cache keyed
by type (the access model's shape and value caches, used by ``races="report"`` and by DPOR)
would keep every one of those classes alive, and memory would grow with the number of
executions. This benchmark runs one long exploration per mode and prints the process's resident
set size (RSS) every ``--every`` executions; it fails if RSS rises more than ``--limit`` MB
above its value at the first report (after warm-up: imports, analysis caches, allocator arenas).

Modes (one exploration each, so that per-exploration clean-up cannot hide a per-execution leak):

* ``races``: ``strategy="random"`` with ``races="report"``: two threads race on an attribute of
  an instance of the body's class (every execution reports the race; reports are deduplicated).
* ``dpor``: ``strategy="dpor"`` on 4 threads x 3 separate locked increments of an instance of the
  body's class. That program has 12!/(3!)^4 = 369,600 equivalence classes, so 100,000 executions
  all belong to one exploration that is still far from exhausted; every execution replays a
  prefix and explores a new class.

``python benchmarks/bench_memory.py [--executions N] [--every N] [--limit MB] [--mode races|dpor|both]``

Run time on a shared 2-core machine (CPython 3.12): about 10 minutes for ``races`` and 30-50 for
``dpor`` (each DPOR execution replays a prefix and runs about 30 events).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import threading
import time
from typing import Any, Callable, List, Optional

from interleave import races as _races
from interleave.session import Session
from interleave.strategies import registry


def rss_mb() -> float:
    """The resident set size of this process, in MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # not Linux: the peak is the best portable figure
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1e6 if sys.platform == "darwin" else 1e3)


def racy_class_body() -> None:
    """Two threads increment an attribute of an instance of a class made in this execution."""

    class Local:
        def __init__(self) -> None:
            self.v = 0

    k = Local()

    def work() -> None:
        k.v += 1

    t = threading.Thread(target=work)
    t.start()
    k.v += 1
    t.join()


def locked_class_body() -> None:
    """4 threads x 3 locked increments of an instance of a class made in this execution."""

    class Local:
        def __init__(self) -> None:
            self.v = 0

    k = Local()
    lock = threading.Lock()

    def work() -> None:
        for _ in range(3):
            with lock:
                k.v += 1

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert k.v == 12


def run(mode: str, executions: int, every: int, limit: float) -> bool:
    """One exploration of ``executions`` runs; True if RSS stayed within ``limit`` MB."""
    body: Callable[[], None] = racy_class_body if mode == "races" else locked_class_body
    strat = registry.make("random" if mode == "races" else "dpor", 1234, preemptions=None, depth=None)
    checker: Optional[_races.RaceChecker] = _races.RaceChecker("report") if mode == "races" else None
    base: Optional[float] = None
    worst = 0.0
    figures: List[Any] = []
    start = time.perf_counter()
    print(f"{mode}: {executions:,} executions, RSS every {every:,}")
    with Session(body, model="instruction", max_steps=20_000) as session:
        for i in range(1, executions + 1):
            if strat.bounded and strat.exhausted():
                print(f"  exhausted after {i - 1:,} executions: the program is too small for this run")
                return False
            out = session.run_once(strat, i, _races.recorder_for(strat, checker))
            strat.end_execution(out)
            if checker is not None:
                checker.end_execution(out, None)
            if out.failed:
                print(f"  execution {i} failed: {out.kind} {out.detail}")
                return False
            if i % every == 0:
                gc.collect()
                now = rss_mb()
                if base is None:
                    base = now
                worst = max(worst, now - base)
                figures.append((i, now))
                print(f"  {i:>9,}  RSS {now:8.1f} MB  ({now - base:+.1f} MB)  {time.perf_counter() - start:7.1f} s",
                      flush=True)
    races = len(checker.races) if checker is not None else 0
    ok = worst <= limit
    print(f"  {mode}: growth after the first report {worst:+.1f} MB (limit {limit} MB): {'ok' if ok else 'FAIL'}"
          + (f"; {races} distinct race(s) reported" if checker is not None else "")
          + (f"; dpor stats {strat.stats}" if mode == "dpor" else ""))
    return ok


def main(argv: Optional[List[str]] = None) -> int:
    """Run the modes asked for; exit status 1 if memory grew beyond the limit."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=100_000)
    ap.add_argument("--every", type=int, default=10_000)
    ap.add_argument("--limit", type=float, default=20.0, help="allowed RSS growth in MB")
    ap.add_argument("--mode", choices=("races", "dpor", "both"), default="both")
    args = ap.parse_args(argv)
    print(f"Python {platform.python_version()} ({sys.implementation.name}), {platform.machine()}")
    modes = ("races", "dpor") if args.mode == "both" else (args.mode,)
    ok = True
    for mode in modes:
        ok = run(mode, args.executions, args.every, args.limit) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
