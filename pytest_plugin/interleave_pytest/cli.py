"""Registers the ``--interleave-*`` command-line options and the ``interleave_*`` ini keys with pytest."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from .options import (
    INI,
    INI_TARGETS,
    parse_call,
    parse_depth,
    parse_executions,
    parse_model,
    parse_preemptions,
    parse_races,
    parse_seed,
    parse_shard,
    parse_time_budget,
    parse_timeouts,
    parse_token,
)
from .targets import parse_targets


def add_options(parser: pytest.Parser) -> None:
    """Register the command-line and ini options."""
    group = parser.getgroup("interleave", "interleave: deterministic thread-interleaving tests")

    def opt(name: str, parse: Callable[[str], Any], metavar: str, help_text: str) -> None:
        group.addoption(f"--interleave-{name}", dest=f"interleave_{name.replace('-', '_')}", type=parse,
                        default=None, metavar=metavar, help=help_text)

    opt("executions", parse_executions, "N", "executions per interleave test (overrides the marker and ini)")
    opt("strategy", str, "NAME", "search strategy for every interleave test (random, pct, exhaustive, ...)")
    opt("seed", parse_seed, "SEED", "seed of every interleave test, or 'random' for a new one each run "
        "(default: derived from the test's node id, so runs repeat)")
    opt("model", parse_model, "MODEL", "memory model: instruction (default) or gil")
    opt("timeouts", parse_timeouts, "WHEN", "when a pending timeout may run out: anytime (default: a thread may "
        "be slow) or when-stuck (only when no thread can run: for timeouts that are safety nets)")
    opt("time-budget", parse_time_budget, "SECONDS", "race hunting: search each interleave test for this many "
        "seconds (executions are then unlimited unless --interleave-executions is given)")
    opt("preemptions", parse_preemptions, "K", "preemption bound for every interleave test whose strategy takes "
        "one (exhaustive, dpor, hypothesis)")
    opt("depth", parse_depth, "D", "bug depth for every interleave test whose strategy takes one (pct)")
    opt("races", parse_races, "MODE", "data races: ignore (default), report (listed in the report and the "
        "summary) or fail (the first race fails the test)")
    opt("stall-timeout", parse_time_budget, "SECONDS", "stop a run that computes this long without reaching a "
        "switch point (a loop in C or in code that is not instrumented) as inconclusive (default 10)")
    group.addoption("--interleave-instrument", dest="interleave_instrument", type=parse_targets, action="append",
                    default=None, metavar="PKG[,PKG...]",
                    help="also instrument these packages, modules or paths (e.g. installed libraries, whose code "
                    "otherwise runs as single steps); adds to the ini key interleave_instrument and the "
                    "marker's instrument=; may be repeated")
    group.addoption("--interleave-exclude", dest="interleave_exclude", type=parse_targets, action="append",
                    default=None, metavar="PKG[,PKG...]",
                    help="never instrument these packages, modules or paths; adds to the ini key "
                    "interleave_exclude and the marker's exclude=, and wins over instrument; may be repeated")
    opt("replay", parse_token, "TOKEN", "replay this token instead of searching (select the failing test "
        "with its node id or -k)")
    opt("replay-call", parse_call, "N", "with --interleave-replay in a test that explores several times: replay "
        "the token on its N-th exploration only (the others search as usual); as printed in the report")
    opt("shard", parse_shard, "I/N", "search shard I of N (1-based): each shard gets disjoint seeds, for "
        "parallel CI jobs hunting the same tests")
    group.addoption("--interleave-clear", action="store_true", dest="interleave_clear", default=False,
                    help="forget the failing interleavings stored in pytest's cache before running")
    for ini_name, (_, help_text) in INI.items():
        parser.addini(ini_name, help_text, default="")
    for ini_name, help_text in INI_TARGETS.items():
        parser.addini(ini_name, help_text, type="linelist", default=[])
