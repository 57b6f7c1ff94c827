"""What ``@pytest.mark.interleave(executions=1)`` costs per test, against the same test unmarked.

Writes a temporary test module with N copies of a small threaded test (two threads, a lock, a
shared counter) in two variants, unmarked and marked ``executions=1``, runs each with pytest in
a fresh process, and compares the mean time per test (setup + call + teardown, as pytest
measures each phase) over several rounds (the median is kept). The marked test runs its
body once under interleave's control instead of once on real threads: the difference is the
plugin's overhead (options, one exploration: patching, instrumentation, one execution,
restoration; the cache lookup; statistics). Target: under 2 ms per test (issue 13). The script also times
a bare ``interleave.explore(body, executions=1)`` in its own process, to show which part of the
difference is the exploration itself and which the plugin.

Plain script, no assertions: ``python benchmarks/bench_plugin_overhead.py [--tests N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Callable, Dict, List, Tuple

import pytest

BODY = textwrap.dedent('''
    import threading
    import pytest


    class Counter:
        def __init__(self):
            self.value = 0
            self.lock = threading.Lock()

        def increment(self):
            with self.lock:
                self.value += 1


    def body():
        c = Counter()
        ts = [threading.Thread(target=c.increment) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.value == 2
''')


def module(count: int, marked: bool) -> str:
    """A test module with ``count`` copies of the test, marked or not."""
    marker = "@pytest.mark.interleave(executions=1)\n" if marked else ""
    tests = "".join(f"\n\n{marker}def test_{i}():\n    body()\n" for i in range(count))
    return BODY + tests


# Written beside the generated tests: every test's setup + call + teardown duration, at full
# precision (pytest's junit report rounds each test's time to the millisecond, under which an
# unmarked test reads as 0).
TIMING_PLUGIN = textwrap.dedent('''
    import json, os

    _durations = {}


    def pytest_runtest_logreport(report):
        _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


    def pytest_sessionfinish(session):
        with open(os.environ["BENCH_TIMES"], "w") as f:
            json.dump(_durations, f)
''')


def per_test_ms(directory: str, name: str, extra: List[str]) -> Tuple[float, float]:
    """Mean milliseconds per test of one pytest run: wall (setup + call + teardown, as pytest
    measures each phase) and the CPU time of the whole pytest process divided by the tests."""
    out = os.path.join(directory, "times.json")
    cmd = [sys.executable, "-m", "pytest", name, "-q", "-p", "no:cacheprovider", "-o", "addopts=", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600, env={**os.environ, "BENCH_TIMES": out})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"pytest run of {name} failed:\n{done.stdout}")
    with open(out) as f:
        times = list(json.load(f).values())
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return 1000.0 * sum(times) / max(1, len(times)), 1000.0 * cpu / max(1, len(times))


def _load_body(directory: str) -> Callable[[], None]:
    """The generated module's body, imported the way pytest would see it."""
    spec = importlib.util.spec_from_file_location("bench_overhead_body", os.path.join(directory, "test_unmarked.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.body  # type: ignore[no-any-return]


def explore_ms(body: Callable[[], None], strategy: str, count: int) -> float:
    """Mean milliseconds of one ``interleave.explore(body, executions=1)`` call in this process."""
    import interleave

    start = time.perf_counter()
    for i in range(count):
        interleave.explore(body, executions=1, seed=i, strategy=strategy)
    return 1000.0 * (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="tests per variant (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported (default 5)")
    args = parser.parse_args()
    variants = [("unmarked (real threads)", "test_unmarked.py", []),
                ("marked, default strategy", "test_marked.py", []),
                ("marked, --interleave-strategy=random", "test_marked.py", ["--interleave-strategy=random"])]
    results: Dict[str, List[float]] = {label: [] for label, _, _ in variants}
    cpu: Dict[str, List[float]] = {label: [] for label, _, _ in variants}
    bare: Dict[str, List[float]] = {"portfolio": [], "random": []}
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "conftest.py"), "w") as f:
            f.write(TIMING_PLUGIN)
        with open(os.path.join(d, "test_unmarked.py"), "w") as f:
            f.write(module(args.tests, marked=False))
        with open(os.path.join(d, "test_marked.py"), "w") as f:
            f.write(module(args.tests, marked=True))
        body = _load_body(d)
        for _ in range(args.rounds):
            for label, name, extra in variants:
                wall, used = per_test_ms(d, name, extra)
                results[label].append(wall)
                cpu[label].append(used)
            for strategy in bare:
                bare[strategy].append(explore_ms(body, strategy, args.tests))
    print(f"Python {sys.version.split()[0]}, pytest {pytest.__version__}: {args.tests} tests per run, "
          f"median of {args.rounds} runs, ms per test: wall (setup + call + teardown) and the pytest "
          f"process's CPU time per test; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    base = statistics.median(results[variants[0][0]])
    base_cpu = statistics.median(cpu[variants[0][0]])
    for label, _, _ in variants:
        ms = statistics.median(results[label])
        used = statistics.median(cpu[label])
        extra = "" if label == variants[0][0] else (
            f"   overhead {ms - base:6.3f} ms wall, {used - base_cpu:6.3f} ms CPU (target < 2 ms)")
        print(f"  {label:38s} {ms:7.3f} ms wall {used:7.3f} ms CPU{extra}")
    print("  of which interleave.explore(body, executions=1) itself, outside pytest:")
    for strategy, times in bare.items():
        print(f"    strategy={strategy!r:12s} {statistics.median(times):7.3f} ms per call")


if __name__ == "__main__":
    main()
