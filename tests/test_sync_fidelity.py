"""Virtual waits reject the timeouts real ones reject, with the same exception and message.

A program that crashes for real (``time.sleep(float("inf"))``, ``lock.acquire(timeout=nan)``) must
not pass under interleave because a virtual wait accepts any number.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, Dict, List

import pytest

import interleave

BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])

CALLS: Dict[str, Callable[[], object]] = {
    "acquire(timeout=inf)": lambda: threading.Lock().acquire(timeout=float("inf")),
    "acquire(timeout=nan)": lambda: threading.Lock().acquire(timeout=float("nan")),
    "acquire(timeout=1e10)": lambda: threading.Lock().acquire(timeout=1e10),
    "acquire(timeout=-2)": lambda: threading.Lock().acquire(timeout=-2),
    "acquire(False, 1)": lambda: threading.Lock().acquire(False, 1),
    "RLock().acquire(timeout=nan)": lambda: threading.RLock().acquire(timeout=float("nan")),
    "sleep(inf)": lambda: time.sleep(float("inf")),
    "sleep(nan)": lambda: time.sleep(float("nan")),
    "sleep(1e300)": lambda: time.sleep(1e300),
}


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - what it raises is the point
        return f"{type(exc).__name__}: {exc}"
    return "returned"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CALLS))
def test_a_timeout_a_real_wait_rejects_is_rejected_alike(name: str, backend: str) -> None:
    real = outcome(CALLS[name])
    assert real != "returned"  # each of these raises for real
    seen: List[str] = []
    interleave.explore(lambda: seen.append(outcome(CALLS[name])), executions=2, seed=0, backend=backend)
    assert seen and set(seen) == {real}, (seen, real)
