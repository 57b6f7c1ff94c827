"""The corpus (benchmarks/corpus/) under our default, every strategy, and both peers' configurations.

For every program in the corpus and every configuration: executions to the first failure of the
buggy version (median over the seeds; a seed that found nothing counts as infinitely slow, so a
median over more misses than hits reads ``>budget``), how many seeds found it within the budget,
and whether the fixed version ever failed (a false positive) within the fixed budget.

Configurations:

* interleave: ``portfolio`` (the default) and every registered strategy (``exhaustive`` with
  ``preemptions=2``; ``replay`` is not a search). Deterministic ones run once.
* interleave-test 0.1.0: ``random``, ``pct`` (its default depth 3) and ``dfs`` (its default
  preemption bound 2; deterministic).
* frontrun 0.7.0: ``random`` and ``dpor`` (its default preemption bound 2; deterministic).
  frontrun refuses to run outside its CLI; this script sets ``FRONTRUN_ACTIVE=1`` as that CLI
  does. A run frontrun calls inconclusive (its per-run timeout on a hang) is not counted as found.

Every tool runs the same worker code: interleave and interleave-test run the body built by
``corpus/harness.py`` (start a thread per worker, join, assert the check); frontrun gets
``setup``/``workers``/``invariant`` directly. The peers live in their own venv, never in the
project's dependencies (benchmarks/README.md): run this script with that venv's Python, which
has interleave installed too (editable)::

    benchmarks/.venv-peers/bin/python benchmarks/bench_corpus.py [--seeds 5] [--budget 2000]

A tool that is not installed is skipped and said so. ``--json FILE`` also writes every
measurement. Plain script, no assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _cases import markdown_table, python_version  # noqa: E402
from corpus import harness, programs  # noqa: E402

# (found, executions) for one search; executions are to the first failure when found.
Run = Tuple[bool, int]


class Config:
    """One tool in one configuration: how to run a buggy or fixed program for a seed."""

    def __init__(self, tool: str, label: str, run: Callable[[Any, bool, int, int], Run],
                 deterministic: bool = False) -> None:
        self.tool = tool
        self.label = label
        self.run = run
        self.deterministic = deterministic

    @property
    def name(self) -> str:
        return f"{self.tool}:{self.label}"


def interleave_configs(strategies: List[str]) -> List[Config]:
    import interleave
    from interleave.strategies import registry

    params: Dict[str, Dict[str, Any]] = {"exhaustive": {"preemptions": 2}}

    def make(strategy: str) -> Callable[[Any, bool, int, int], Run]:
        def run(program: Any, fixed: bool, seed: int, budget: int) -> Run:
            r = interleave.explore(harness.body(program, fixed), strategy=strategy, seed=seed,
                                   executions=budget, time_budget=TIME_CAP, shrink=False,
                                   **params.get(strategy, {}))
            hit = r.failure is not None and r.failure.kind not in ("divergence", "internal-error")
            if r.failure is not None and not hit:
                print(f"  note: {strategy} {program.__name__} seed {seed}: {r.failure.kind}", file=sys.stderr)
            return hit, r.executions
        return run

    out = []
    for s in strategies or [s for s in registry.names() if s != "replay"]:
        bounded = bool(getattr(registry.make(s, 0, **params.get(s, {})), "bounded", False))
        label = s + "".join(f"({k}={v})" for k, v in params.get(s, {}).items())
        out.append(Config("interleave", label, make(s), deterministic=bounded))
    return out


def interleave_test_configs() -> List[Config]:
    import interleave_test as it

    def make(strategy: str) -> Callable[[Any, bool, int, int], Run]:
        def run(program: Any, fixed: bool, seed: int, budget: int) -> Run:
            r = it.explore(harness.body(program, fixed), iterations=budget, seed=seed, strategy=strategy,
                           raise_on_failure=False, timeout=5.0)
            if r.failure is not None:
                return True, r.failure.iteration + 1
            return False, r.schedules_run
        return run

    return [Config("interleave-test", "random", make("random")), Config("interleave-test", "pct", make("pct")),
            Config("interleave-test", "dfs", make("dfs"), deterministic=True)]


def frontrun_configs() -> List[Config]:
    os.environ["FRONTRUN_ACTIVE"] = "1"  # what the `frontrun` CLI sets; explore() refuses without it
    import frontrun

    def make(strategy: str) -> Callable[[Any, bool, int, int], Run]:
        def run(program: Any, fixed: bool, seed: int, budget: int) -> Run:
            kw: Dict[str, Any] = ({"max_attempts": budget, "seed": seed} if strategy == "random"
                                  else {"max_executions": budget})
            r = frontrun.explore(setup=program.setup, workers=list(program.FIXED if fixed else program.BUGGY),
                                 invariant=program.check, strategy=strategy, reproduce_on_failure=0,
                                 total_timeout=TIME_CAP, **kw)
            return r.property_holds is False, r.num_explored
        return run

    return [Config("frontrun", "random", make("random")),
            Config("frontrun", "dpor", make("dpor"), deterministic=True)]


TIME_CAP = 20.0  # seconds per search, as in issue 13's measurement


def median_or_miss(values: List[Optional[int]]) -> Optional[float]:
    """Median where a miss counts as infinitely slow; None when the median is a miss."""
    m = statistics.median(sorted(math.inf if v is None else v for v in values))
    return None if math.isinf(m) else m


def fmt_median(m: Optional[float], budget: int) -> str:
    return f">{budget:,}" if m is None else f"{m:,.1f}".rstrip("0").rstrip(".")


def main() -> None:
    global TIME_CAP
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=2000, help="executions per search of a buggy version")
    parser.add_argument("--fixed-budget", type=int, default=500, help="executions per search of a fixed version")
    parser.add_argument("--time-cap", type=float, default=TIME_CAP, help="seconds per search")
    parser.add_argument("--tools", default="interleave,interleave-test,frontrun")
    parser.add_argument("--strategies", default="", help="interleave strategies (default: all registered)")
    parser.add_argument("--programs", default="", help="corpus programs (default: all)")
    parser.add_argument("--json", default="", help="also write every measurement to this file")
    args = parser.parse_args()
    TIME_CAP = args.time_cap

    try:
        from hypothesis import settings
        # strategy="hypothesis" replays saved failures first: seeds would not be independent.
        settings.register_profile("interleave-bench-no-database", database=None)
        settings.load_profile("interleave-bench-no-database")
    except ImportError:
        pass

    configs: List[Config] = []
    tools = args.tools.split(",")
    builders = {"interleave": lambda: interleave_configs([s for s in args.strategies.split(",") if s]),
                "interleave-test": interleave_test_configs, "frontrun": frontrun_configs}
    for tool in tools:
        try:
            configs += builders[tool]()
        except ImportError as exc:
            print(f"{tool}: not installed ({exc}); skipped (see benchmarks/README.md)")
    progs = programs()
    if args.programs:
        wanted = args.programs.split(",")
        progs = [p for p in progs if p.__name__.rsplit(".", 1)[-1] in wanted]

    load_before = os.getloadavg()
    started = time.perf_counter()
    print(f"Python {python_version()} ({platform.machine()}, {os.cpu_count()} cores); load average "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} at start; seeds 0-{args.seeds - 1}; "
          f"budget {args.budget:,} executions (fixed versions {args.fixed_budget:,}), {TIME_CAP:g} s per search")
    results: Dict[str, Dict[str, Any]] = {}
    for program in progs:
        pname = program.__name__.rsplit(".", 1)[-1]
        results[pname] = {"hard": bool(getattr(program, "HARD", False)), "configs": {}}
        for config in configs:
            seeds = [0] if config.deterministic else list(range(args.seeds))
            execs: List[Optional[int]] = []
            capped = 0  # misses that stopped at the time cap before the execution budget
            for seed in seeds:
                try:
                    found, n = config.run(program, False, seed, args.budget)
                except Exception as exc:  # a peer's crash is a miss, reported
                    print(f"  error: {config.name} {pname} seed {seed}: {type(exc).__name__}: {exc}"[:300],
                          file=sys.stderr)
                    found, n = False, 0
                execs.append(n if found else None)
                capped += not found and n < args.budget
            if config.deterministic:
                execs = execs * args.seeds  # the same search for every seed
                capped *= args.seeds
            try:
                false_positive, _ = config.run(program, True, 0, args.fixed_budget)
            except Exception as exc:
                print(f"  error: {config.name} {pname} fixed: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
                false_positive = False
            entry = {"execs": execs, "found": sum(e is not None for e in execs),
                     "median": median_or_miss(execs), "false_positive": false_positive,
                     "capped": capped}
            results[pname]["configs"][config.name] = entry
            print(f"  {pname:<16} {config.name:<34} found {entry['found']}/{args.seeds} "
                  f"median {fmt_median(entry['median'], args.budget):>7}  fixed "
                  f"{'FAILED' if false_positive else 'ok'}  {execs}"
                  + (f" ({capped} hit the time cap)" if capped else ""), file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    print(f"(whole run {elapsed:.0f} s; load average {load_after[0]:.2f} {load_after[1]:.2f} "
          f"{load_after[2]:.2f} at the end)")
    print_tables(results, configs, args.seeds, args.budget)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": python_version(), "seeds": args.seeds, "budget": args.budget,
                       "load": [load_before, load_after], "elapsed": elapsed, "results": results}, f, indent=1)


def cell(entry: Optional[Dict[str, Any]], seeds: int, budget: int) -> str:
    if entry is None:
        return "-"
    fp = " FP" if entry["false_positive"] else ""
    cap = "*" if entry.get("capped") else ""
    return f"{fmt_median(entry['median'], budget)} ({entry['found']}/{seeds}){cap}{fp}"


def best_of(entries: Dict[str, Dict[str, Any]], tool_prefixes: Tuple[str, ...]) -> Tuple[str, Optional[Dict[str, Any]]]:
    """The configuration with the lowest median (then most seeds found) among the given tools."""
    best: Tuple[float, int, str] = (math.inf, 0, "")
    for name, e in entries.items():
        if not name.startswith(tool_prefixes) or e["false_positive"]:
            continue
        key = (math.inf if e["median"] is None else e["median"], -e["found"], name)
        if key < best:
            best = key
    return best[2], entries.get(best[2])


def print_tables(results: Dict[str, Dict[str, Any]], configs: List[Config], seeds: int, budget: int) -> None:
    print()
    print(f"### Default vs the best peer configuration (median executions to the first failure, "
          f"seeds found of {seeds}; *: a miss stopped at the time cap; FP: the fixed version failed)")
    print()
    rows = []
    for pname, r in results.items():
        entries = r["configs"]
        ours = entries.get("interleave:portfolio")
        peer_name, peer = best_of(entries, ("interleave-test:", "frontrun:"))
        strat_name, strat = best_of(entries, ("interleave:",))
        ratio = "-"
        if ours is not None and peer is not None and ours["median"] is not None and peer["median"] is not None:
            ratio = f"{ours['median'] / peer['median']:.2f}"
        elif ours is not None and ours["median"] is not None and peer is not None:
            ratio = "peer missed"
        rows.append([pname + (" (hard)" if r["hard"] else ""), cell(ours, seeds, budget),
                     f"{strat_name.split(':', 1)[-1]}: {cell(strat, seeds, budget)}" if strat else "-",
                     f"{peer_name}: {cell(peer, seeds, budget)}" if peer else "-", ratio])
    print(markdown_table(["program", "interleave default", "best interleave strategy", "best peer configuration",
                          "default / best peer"], rows, right=(4,)))
    print()
    print("### Every configuration (median executions to the first failure, seeds found)")
    print()
    names = [c.name for c in configs]
    rows = [[pname] + [cell(r["configs"].get(n), seeds, budget) for n in names] for pname, r in results.items()]
    print(markdown_table(["program"] + names, rows))


if __name__ == "__main__":
    main()
