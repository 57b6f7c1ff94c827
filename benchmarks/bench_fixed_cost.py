"""The fixed cost of one execution and the cost of starting threads, in CPU microseconds.

Three bodies run in one ``Session`` under ``RandomStrategy(1)``, each execution through
``session.run_once`` (no exploration loop, no reporting): an empty body (the fixed cost of any
execution: greenlet, reseeding ``random``, bookkeeping), a body that starts and joins three
threads that do nothing (the cost of ``threading.Thread`` on cooperative primitives), and the
2-thread locked counter of ``compare.py``. CPU time (``time.process_time``), not wall time: the
development machine is shared, and CPU time moves far less with its load. Each body is
measured three times; the median is printed with the load average.

Plain script, no assertions: ``python benchmarks/bench_fixed_cost.py [empty|three|counter ...]``.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from typing import Callable, Dict, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import locked_counter  # noqa: E402 - the same body compare.py times for every tool

from interleave.session import Session  # noqa: E402
from interleave.strategies.random_walk import RandomStrategy


def empty() -> None:
    pass


def _nothing() -> None:
    pass


def three_threads() -> None:
    ts = [threading.Thread(target=_nothing) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


BODIES: Dict[str, Tuple[Callable[[], None], int]] = {
    "empty": (empty, 20_000),
    "three": (three_threads, 3_000),
    "counter": (locked_counter, 5_000),
}


def us_per_execution(fn: Callable[[], None], n: int) -> float:
    with Session(fn, model="instruction", max_steps=100_000) as session:
        strategy = RandomStrategy(1)
        for i in range(50):  # warm-up: code objects instrumented, pools filled
            session.run_once(strategy, i)
        t0 = time.process_time()
        for i in range(n):
            session.run_once(strategy, i)
        return (time.process_time() - t0) / n * 1e6


def main() -> None:
    for name in sys.argv[1:] or list(BODIES):
        fn, n = BODIES[name]
        runs = [us_per_execution(fn, n) for _ in range(3)]
        print(f"{name}: median {statistics.median(runs):.1f} us per execution "
              f"({', '.join(f'{r:.1f}' for r in runs)}); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
