"""Ctrl-C at 50+ moments of a hunt, in child processes: always KeyboardInterrupt, never a verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND = "auto"


def run_child(kind: str, n: int, span: float, strategy: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "interrupt_child.py"), kind, str(n), str(span),
                           strategy, BACKEND], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("strategy", ["portfolio", "dpor"])
def test_ctrl_c_at_any_moment_of_a_hunt_of_a_correct_program_is_keyboard_interrupt(strategy: str) -> None:
    # 60 moments spread over the first 0.3 s: set-up, executions, strategy decisions, teardown.
    out = run_child("correct", 60, 0.3, strategy)
    assert out["wrong"] == [], out
    assert out["tally"] == {"interrupted": 60}, out


def test_ctrl_c_while_a_failure_is_shrunk_and_reported_is_keyboard_interrupt() -> None:
    # Moments spread over a hunt that finds a bug, shrinks it, replays it and renders the report:
    # each ends as KeyboardInterrupt, or (interrupt too late) as the true failure; never anything else.
    out = run_child("buggy", 50, 0.4, "random")
    assert out["wrong"] == [], out
    assert out["tally"].get("interrupted", 0) >= 1, out
