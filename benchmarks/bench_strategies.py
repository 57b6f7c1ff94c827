"""Every registered search strategy over every buggy example: how fast does each find each bug?

For each strategy in ``interleave.strategies.registry.names()`` and each buggy program in
examples/, seeds 0-19, with a budget of executions per search: how many seeds found the bug, the
median executions to the first failure, and the median seconds of search to the first failure.
A seed that found nothing counts as infinitely slow, so a median over more misses than hits is
shown as ``>budget`` rather than as the median of the lucky seeds.

Bounded strategies (``exhaustive``, and any other whose instances say ``bounded``) do not use the
seed: they are run once and the row says so. ``exhaustive`` runs with ``preemptions=2`` (the
issue's bound; unbounded it would not finish on most of these programs).

Times are search only (``Result.elapsed``: shrinking and the report come after and are
excluded), on one core of whatever machine runs this; the executions column is what transfers
between machines.

Prints a Markdown table to paste into docs/benchmarks.md. Plain script, no assertions:
``python benchmarks/bench_strategies.py [--budget N] [--seeds N] [--strategies a,b]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any, Dict, List, Optional

import interleave
from interleave.strategies import registry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _cases import BUGGY, fmt, markdown_table, median_or_miss, program, python_version  # noqa: E402

# Parameters a strategy needs to terminate here; strategies not listed get their defaults.
STRATEGY_PARAMS: Dict[str, Dict[str, Any]] = {"exhaustive": {"preemptions": 2}}
SKIP = {"replay"}  # replays a token; not a search


def is_bounded(strategy: str) -> bool:
    try:
        return bool(registry.make(strategy, 0, **STRATEGY_PARAMS.get(strategy, {})).bounded)
    except Exception:
        return False


def independent_hypothesis_seeds() -> None:
    """strategy='hypothesis' replays the failures saved in Hypothesis's example database first,
    so after the first seed every seed would "find" the bug at once. The benchmark measures
    finding, so it turns the database off."""
    try:
        from hypothesis import settings
    except ImportError:
        return
    settings.register_profile("interleave-bench-no-database", database=None)
    settings.load_profile("interleave-bench-no-database")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=5000, help="executions per search (default 5000)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--strategies", default="", help="comma-separated subset (default: all registered)")
    args = parser.parse_args()

    independent_hypothesis_seeds()
    names = [s for s in registry.names() if s not in SKIP]
    if args.strategies:
        names = [s for s in args.strategies.split(",") if s]
    print(f"interleave {interleave.__version__}, Python {python_version()} ({platform.machine()}, "
          f"{os.cpu_count()} cores); registered strategies: {', '.join(registry.names())}")
    print(f"budget {args.budget:,} executions per search, seeds 0-{args.seeds - 1}, model=instruction, "
          f"default back-end; times are search only")
    print()

    rows: List[List[str]] = []
    started = time.perf_counter()
    for strategy in names:
        params = STRATEGY_PARAMS.get(strategy, {})
        bounded = is_bounded(strategy)
        seeds = [0] if bounded else list(range(args.seeds))
        label = strategy + "".join(f" {k}={v}" for k, v in params.items())
        for name, function in BUGGY:
            fn = program(name, function)
            execs: List[Optional[float]] = []
            secs: List[Optional[float]] = []
            exhausted = False
            for seed in seeds:
                r = interleave.explore(fn, strategy=strategy, seed=seed, executions=args.budget, shrink=False, **params)
                hit = r.failure is not None and r.failure.kind != "divergence"
                execs.append(r.executions if hit else None)
                secs.append(r.elapsed if hit else None)
                exhausted = exhausted or r.exhausted
                if r.failure is not None and r.failure.kind == "divergence":
                    print(f"  note: {strategy} on {name}.{function} seed {seed}: divergence "
                          f"({r.failure.detail[:120]})", file=sys.stderr)
            found = sum(e is not None for e in execs)
            if bounded:
                found_text = ("found" if found else ("exhausted, not found" if exhausted else "not found"))
                found_text += " (deterministic)"
            else:
                found_text = f"{found}/{len(seeds)}"
            miss = f">{args.budget:,}" if not exhausted else f"none ({r.executions:,} schedules)"
            rows.append([label, f"{name}.{function}", found_text, fmt(median_or_miss(execs), 1, miss=miss),
                         fmt(median_or_miss(secs), 3, miss="-")])
            print(f"  {label:<24} {name}.{function:<12} {found_text:<28} {rows[-1][3]:>12} {rows[-1][4]:>8}",
                  file=sys.stderr, flush=True)

    print(f"### Strategies over the buggy examples (seeds 0-{args.seeds - 1}, budget {args.budget:,} executions)")
    print()
    print(markdown_table(["strategy", "program", "found", "median execs to 1st failure", "median s to 1st failure"],
                         rows, right=(3, 4)))
    print()
    print(f"(whole run: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
