"""What every exploration pays for the modules already imported: the search for primitives made at import.

Before each exploration interleave searches the globals of every loaded module of code under test
(and of libraries) for locks, conditions, queues and the like made before the run, and makes them
cooperative for its length (``interleave/patches/adopter.py``). In a large suite every collected
test module is loaded, so a marked test late in the run pays for all of them.

This script writes ``--modules`` test-like modules (each with ``--functions`` test functions
carrying a pytest mark, a helper class with a few methods, a settings dict and one module-level
lock), imports them, and times ``interleave.explore(body, executions=1)`` of ``compare.py``'s
2-thread locked counter before and after: CPU milliseconds per exploration, the median of ``--rounds`` rounds.

Plain script, no assertions: ``python benchmarks/bench_module_search.py [--modules 0,10,50,100]
[--functions 30] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import textwrap
import time
from typing import List

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import locked_counter  # noqa: E402 - the same body compare.py times for every tool

import interleave  # noqa: E402

MODULE = textwrap.dedent('''
    import threading
    import pytest

    LOCK = threading.Lock()
    SETTINGS = {"retries": 3, "names": ["a", "b", "c"], "limits": (1, 2, 3)}


    class Helper:
        def __init__(self):
            self.items = []

        def add(self, item):
            with LOCK:
                self.items.append(item)

        def size(self):
            return len(self.items)
''')


def module_text(functions: int) -> str:
    """One test-like module: ``functions`` marked test functions beside the shared parts."""
    tests = "".join(f"\n\n@pytest.mark.interleave(executions=1)\ndef test_{i}():\n    Helper().add({i})\n"
                    for i in range(functions))
    return MODULE + tests


def ms_per_exploration(rounds: int, count: int = 100) -> float:
    """Median CPU milliseconds of one ``explore(body, executions=1)``."""
    for i in range(20):  # warm-up: the first explorations after an import do the one-time work
        interleave.explore(locked_counter, executions=1, seed=i, strategy="random")
    runs: List[float] = []
    for _ in range(rounds):
        t0 = time.process_time()
        for i in range(count):
            interleave.explore(locked_counter, executions=1, seed=i, strategy="random")
        runs.append((time.process_time() - t0) / count * 1000.0)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default="0,10,50,100", help="module counts to measure (default 0,10,50,100)")
    parser.add_argument("--functions", type=int, default=30, help="test functions per module (default 30)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported (default 5)")
    args = parser.parse_args()
    counts = sorted({int(x) for x in args.modules.split(",")})
    print(f"Python {sys.version.split()[0]}, pytest {pytest.__version__}: {args.functions} marked test functions "
          f"per module; CPU ms per explore(body, executions=1), median of {args.rounds} rounds; load average "
          f"{os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        sys.path.insert(0, d)
        loaded = 0
        for count in counts:
            for i in range(loaded, count):
                with open(os.path.join(d, f"bench_search_{i}.py"), "w") as f:
                    f.write(module_text(args.functions))
                importlib.import_module(f"bench_search_{i}")
            loaded = max(loaded, count)
            ms = ms_per_exploration(args.rounds)
            print(f"  {count:4d} modules loaded ({count * args.functions:5d} test functions): {ms:6.3f} ms")


if __name__ == "__main__":
    main()
