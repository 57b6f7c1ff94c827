"""Per-execution cost of a real-library case: interleave next to interleave-test and frontrun.

The case is the one a user of ``cachetools`` writes first: two threads read through a
``TTLCache`` guarded by a lock, as the cachetools docs show (``with lock: cache.get / cache[k] =``),
then the body checks both got the value. It lives in this file (a real file: every tool
traces it the same way), and cachetools comes from site-packages. interleave runs it with
``instrument=["cachetools"]`` (the library's code is switch points too, its clock is virtual),
which is the expensive setting; "interleave (not instrumented)" is the default.

Each tool runs its random strategy, three rounds taking turns; the table gives the median cost
per execution in milliseconds. Competitors are never project dependencies: run this with a venv
that has them, e.g. ``benchmarks/.venv-libs`` (gitignored)::

    python -m venv benchmarks/.venv-libs
    benchmarks/.venv-libs/bin/pip install -e . frontrun==0.7.0 interleave-test==0.1.0 cachetools==5.5.2
    benchmarks/.venv-libs/bin/python benchmarks/bench_libraries.py

Plain script, no assertions beyond "the correct program passed".
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _cases import markdown_table, python_version  # noqa: E402

ROUNDS = 3


class Shared:
    """What the threads share: a TTL cache, its lock, and what each thread got."""

    def __init__(self) -> None:
        import cachetools

        self.cache = cachetools.TTLCache(maxsize=16, ttl=60)
        self.lock = threading.Lock()
        self.got: List[int] = []


def read_through(s: Shared) -> None:
    """One worker: get the value from the cache, computing and storing it on a miss."""
    with s.lock:
        v = s.cache.get("answer")
        if v is None:
            v = 42
            s.cache["answer"] = v
    s.got.append(v)


def check(s: Shared) -> bool:
    """The property: both threads got the value."""
    return s.got == [42, 42]


def body() -> None:
    """The case as interleave and interleave-test take it: build, start, join, check."""
    s = Shared()
    ts = [threading.Thread(target=read_through, args=(s,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert check(s)


def run_interleave(n: int, instrument: bool = True) -> Tuple[int, float]:
    import interleave

    r = interleave.explore(body, strategy="random", seed=0, executions=n,
                           instrument=["cachetools"] if instrument else [])
    assert r.failure is None, r.failure.report
    return r.executions, r.elapsed


def run_interleave_test(n: int) -> Tuple[int, float]:
    import interleave_test as it

    r = it.explore(body, iterations=n, seed=0, strategy="random", raise_on_failure=False)
    assert r.ok, r.failure
    return r.schedules_run, r.elapsed


def run_frontrun(n: int) -> Tuple[int, float]:
    os.environ["FRONTRUN_ACTIVE"] = "1"  # what the `frontrun` CLI sets; explore() refuses without it
    import frontrun

    t0 = time.perf_counter()
    r = frontrun.explore(setup=Shared, workers=[read_through, read_through], invariant=check,
                         strategy="random", max_attempts=n, seed=0, reproduce_on_failure=0)
    elapsed = time.perf_counter() - t0
    assert r.property_holds, r.explanation
    return r.num_explored, elapsed


TOOLS: List[Tuple[str, str, int, Callable[[int], Tuple[int, float]]]] = [
    ("interleave (instrument=['cachetools'])", "interleave", 2000, run_interleave),
    ("interleave (not instrumented)", "interleave", 2000, lambda n: run_interleave(n, instrument=False)),
    ("interleave-test", "interleave_test", 300, run_interleave_test),
    ("frontrun", "frontrun", 100, run_frontrun),
]


def version_of(module: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version({"interleave_test": "interleave-test", "interleave": "pytest-interleave"}.get(module, module))
    except Exception:  # noqa: BLE001 - a version is decoration
        return None


def main() -> None:
    import cachetools

    print(f"Python {python_version()} ({platform.machine()}, {os.cpu_count()} cores); case: 2 threads reading "
          f"through a locked cachetools {cachetools.__version__} TTLCache; strategy: random; {ROUNDS} rounds")
    available = []
    for label, module, n, runner in TOOLS:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(f"  {label}: not installed ({exc}); see this file's docstring")
            continue
        available.append((label, module, n, runner))
    costs: Dict[str, List[float]] = {label: [] for label, *_ in available}
    for _ in range(ROUNDS):
        for label, _module, n, runner in available:
            executions, elapsed = runner(n)
            costs[label].append(1000 * elapsed / executions)
    base = statistics.median(costs[available[0][0]]) if available and available[0][1] == "interleave" else None
    rows: List[List[Any]] = []
    for label, module, n, _ in available:
        med = statistics.median(costs[label])
        ratio = f"{med / base:.1f}x" if base and not label.startswith("interleave (") else "-"
        rows.append([label, version_of(module) or "?", f"{n:,}", f"{med:.2f}", f"{min(costs[label]):.2f}",
                     f"{max(costs[label]):.2f}", ratio])
    print()
    print("### cachetools TTLCache case, milliseconds per execution (median of rounds)")
    print()
    print(markdown_table(["tool", "version", "execs/round", "median ms/exec", "min", "max",
                          "slower than interleave (instrumented)"], rows, right=(2, 3, 4, 5, 6)))


if __name__ == "__main__":
    main()
