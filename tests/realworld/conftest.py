"""Budgets of the real-library suite: a short default for CI, the full one with INTERLEAVE_REALWORLD_LONG=1."""

from __future__ import annotations

import os
import sys

# The suite's helpers live next to it; the rest of tests/ does the same through rootdir imports.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_terminal_summary(terminalreporter: object) -> None:
    """Executions, verdict and seconds of every exploration (the figures of docs' real-library table)."""
    from realworld_helpers import RECORDS

    if not RECORDS:
        return
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    write("real-library explorations: test, strategy, seed, executions, verdict, seconds")
    for test, strategy, seed, executions, verdict, seconds in RECORDS:
        write(f"  {test} {strategy} seed={seed} executions={executions} {verdict} {seconds:.2f}s")
