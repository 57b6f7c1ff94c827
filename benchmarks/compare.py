"""interleave next to other tools, on the same program, in the same run.

The program is the 2-thread locked counter: each thread does ``with lock: c.value += 1``; the
body (or the tool's equivalent) starts and joins both and checks ``c.value == 2``. Each tool runs
it under its *random* strategy (a bounded or DPOR search would stop after a handful of
executions, which measures something else), and the table gives executions per second. The
tools take turns, three rounds, so that a change in machine load hits all of them alike; the
table shows the median round.

Competitors are never project dependencies. Install them beside the project in their own venv:
see benchmarks/README.md (``benchmarks/.venv-compare``). A tool that is not installed is listed
as such and skipped.

* interleave-test 0.1.0 (PyPI ``interleave-test``): ``interleave_test.explore(model,
  iterations=N, seed=0, strategy="random", raise_on_failure=False)``; executions =
  ``schedules_run``.
* frontrun 0.7.0 (PyPI ``frontrun``, Python 3.10+): ``frontrun.explore(setup=..., workers=[...],
  invariant=..., strategy="random", max_attempts=N, seed=0)``; executions = ``num_explored``.
  frontrun refuses to run outside its ``frontrun`` CLI; this script sets ``FRONTRUN_ACTIVE=1``
  itself, which is what the CLI sets (it also preloads an I/O-detection library, which this
  program does not need).

Plain script, no assertions: ``python benchmarks/compare.py``.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import sys
import threading
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _cases import markdown_table, python_version  # noqa: E402

ROUNDS = 3


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def locked_counter() -> None:
    """The body, as interleave and interleave-test take it: build, start, join, check."""
    c = Counter()

    def work() -> None:
        with c.lock:
            c.value += 1

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


def locked_increment(c: Counter) -> None:
    """One frontrun worker: frontrun starts the threads itself and checks an invariant after."""
    with c.lock:
        c.value += 1


def run_interleave(n: int) -> Tuple[int, float]:
    import interleave

    r = interleave.explore(locked_counter, strategy="random", seed=0, executions=n)
    assert r.failure is None, r.failure.report
    return r.executions, r.elapsed


def run_interleave_test(n: int) -> Tuple[int, float]:
    import interleave_test as it

    r = it.explore(locked_counter, iterations=n, seed=0, strategy="random", raise_on_failure=False)
    assert r.ok, r.failure
    return r.schedules_run, r.elapsed


def run_frontrun(n: int) -> Tuple[int, float]:
    import time

    os.environ["FRONTRUN_ACTIVE"] = "1"  # what the `frontrun` CLI sets; explore() refuses without it
    import frontrun

    t0 = time.perf_counter()
    r = frontrun.explore(setup=Counter, workers=[locked_increment, locked_increment],
                         invariant=lambda c: c.value == 2, strategy="random", max_attempts=n, seed=0,
                         reproduce_on_failure=0)
    elapsed = time.perf_counter() - t0
    assert r.property_holds, r.explanation
    return r.num_explored, elapsed


# (label, module to import, executions per round, runner). Budgets give each tool one to a few
# seconds per round at its usual speed.
TOOLS: List[Tuple[str, str, int, Callable[[int], Tuple[int, float]]]] = [
    ("interleave", "interleave", 5000, run_interleave),
    ("interleave-test", "interleave_test", 1000, run_interleave_test),
    ("frontrun", "frontrun", 300, run_frontrun),
]


def version_of(module: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version({"interleave_test": "interleave-test"}.get(module, module))
    except Exception:
        return None


def main() -> None:
    print(f"Python {python_version()} ({platform.machine()}, {os.cpu_count()} cores); "
          f"program: 2-thread locked counter; strategy: random; {ROUNDS} rounds, tools take turns")
    available = []
    for label, module, n, runner in TOOLS:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(f"  {label}: not installed ({exc}); see benchmarks/README.md")
            continue
        available.append((label, module, n, runner))

    rates: Dict[str, List[float]] = {label: [] for label, *_ in available}
    for _ in range(ROUNDS):
        for label, _module, n, runner in available:
            executions, elapsed = runner(n)
            rates[label].append(executions / elapsed)

    base = statistics.median(rates["interleave"]) if "interleave" in rates else None
    rows = []
    for label, module, n, _ in available:
        med = statistics.median(rates[label])
        ratio = f"{base / med:.1f}x" if base and label != "interleave" else "-"
        rows.append([label, version_of(module) or "?", f"{n:,}", f"{med:,.0f}", f"{min(rates[label]):,.0f}",
                     f"{max(rates[label]):,.0f}", ratio])
    print()
    print("### 2-thread locked counter, executions per second (median of rounds)")
    print()
    print(markdown_table(["tool", "version", "execs/round", "median exec/s", "min", "max", "interleave is faster by"],
                         rows, right=(2, 3, 4, 5, 6)))


if __name__ == "__main__":
    main()
