"""Shared assertions for the runtime test-suite: explore a body and check what was found."""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional, Tuple, Type, Union

import interleave
from interleave import Failure, Result

#: Executions for "a correct program never fails": the bar issue 2 sets. Every primitive has
#: at least one correct program explored this many times (they pass ``executions=CORRECT_RUNS``).
CORRECT_RUNS = 2000
#: For the other correct programs (variants of the same primitives, edge cases): keeps the
#: suite within its time budget on the slow settrace back-end (Python 3.9-3.11).
QUICK_RUNS = 300
#: Budget for "a buggy program is caught": generous, the bug is usually found in a few runs.
BUGGY_RUNS = 2000


def assert_passes(body: Callable[[], Any], executions: int = QUICK_RUNS, seed: int = 0, **kw: Any) -> Result:
    """Explore ``body``; fail the test with the interleave report if any execution failed."""
    result = interleave.explore(body, executions=executions, seed=seed, **kw)
    if result.failure is not None:
        raise AssertionError("false failure:\n" + result.failure.report)
    assert result.executions == executions, result.verdict
    return result


def assert_finds(
    body: Callable[[], Any],
    kind: str = "exception",
    exc: Optional[Union[Type[BaseException], Tuple[Type[BaseException], ...]]] = AssertionError,
    executions: int = BUGGY_RUNS,
    seed: int = 0,
    **kw: Any,
) -> Failure:
    """Explore ``body``; the test fails unless a failure of ``kind`` (and exception type) is found."""
    kw.setdefault("shrink", False)
    result = interleave.explore(body, executions=executions, seed=seed, **kw)
    assert result.failure is not None, f"bug not found: {result.verdict}"
    failure = result.failure
    assert failure.kind == kind, failure.report
    if kind == "exception" and exc is not None:
        assert isinstance(failure.exception, exc), failure.report
    return failure


def run_threads(*targets: Callable[[], Any]) -> None:
    """Start one thread per target, then join them in order (switch points of the caller's run)."""
    ts = [threading.Thread(target=t) for t in targets]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
