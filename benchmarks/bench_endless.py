"""How long an endless loop takes to end at the default step limit, per shape and back-end.

Issue 9 asks for under 1 s with the default ``max_steps`` for every shape. The time covers the
whole ``explore``: the failing execution, the replays that count and record the last stretch of
it, and the report. Plain script, no assertions: ``python benchmarks/bench_endless.py``.
"""

from __future__ import annotations

import os
import sys
import time

import interleave

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from guarantee_programs import ENDLESS, Box, bump_forever  # noqa: E402


def lone_attribute_loop() -> None:
    bump_forever(Box())


SHAPES = dict(ENDLESS, **{"alone, attribute": lone_attribute_loop})


def main() -> None:
    backends = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])
    print(f"Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}; seconds to a step-limit failure "
          f"(default max_steps, best of 3)")
    print(f"{'shape':20}" + "".join(f"{b:>12}" for b in backends))
    for name, body in SHAPES.items():
        cells = []
        for backend in backends:
            best = float("inf")
            for seed in range(3):
                t0 = time.perf_counter()
                r = interleave.explore(body, executions=1, seed=seed, backend=backend)
                assert r.failure is not None and r.failure.kind == "step-limit"
                best = min(best, time.perf_counter() - t0)
            cells.append(f"{best:12.2f}")
        print(f"{name:20}" + "".join(cells), flush=True)


if __name__ == "__main__":
    main()
