"""Turns a corpus program into the body interleave and interleave-test run."""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Callable


def body(program: ModuleType, fixed: bool = False) -> Callable[[], None]:
    """Build the state, run every worker in its own thread, join them, assert the check."""
    workers = program.FIXED if fixed else program.BUGGY
    setup = program.setup
    check = program.check
    label = program.__name__.rsplit(".", 1)[-1] + ("_fixed" if fixed else "_buggy")

    def run() -> None:
        state = setup()
        threads = [threading.Thread(target=w, args=(state,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert check(state), f"{label}: bad final state"

    run.__name__ = run.__qualname__ = label
    return run
