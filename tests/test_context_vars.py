"""Context variables: the body runs in the caller's, each thread it starts in an empty one.

The body stands for the calling thread, so it sees what a fixture set (a request id, decimal's
precision); each execution gets a copy of its own, so a value the body sets does not reach the
next execution or the caller. A started thread begins with no context variables, as a real
thread does on Python 3.10-3.13, also when its greenlet served another thread before.
"""

from __future__ import annotations

import contextvars
import decimal
import sys
import threading
from typing import Dict, List, Tuple

import pytest
from runtime_helpers import run_threads

import interleave
from interleave.strategies import registry

pytestmark = pytest.mark.timeout(120)

REQUEST = contextvars.ContextVar("request")
STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])


class Body:
    def __init__(self) -> None:
        self.seen: List[Tuple[str, int]] = []
        self.in_threads: Dict[str, str] = {}

    def __call__(self) -> None:
        self.seen.append((REQUEST.get("<unset>"), decimal.getcontext().prec))
        REQUEST.set("changed by the body")
        decimal.setcontext(decimal.Context(prec=7))  # a new context in the variable: not a mutation

        def work() -> None:
            name = threading.current_thread().name
            self.in_threads[name] = REQUEST.get("<unset>")
            REQUEST.set(f"set by {name}")  # must not reach a later thread on the same greenlet

        run_threads(work, work)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_body_sees_the_callers_context_and_threads_start_empty(strategy: str, backend: str) -> None:
    def run() -> Tuple[Body, interleave.Result]:
        REQUEST.set("req-42")
        decimal.setcontext(decimal.Context(prec=50))
        body = Body()
        return body, interleave.explore(body, executions=8, seed=1, strategy=strategy, backend=backend)

    ctx = contextvars.copy_context()  # keep this test's own context clean for the others
    body, r = ctx.run(run)
    assert r.failure is None, r.failure.report
    assert len(body.seen) > 1
    assert set(body.seen) == {("req-42", 50)}, body.seen
    assert set(body.in_threads.values()) == {"<unset>"}, body.in_threads
    assert ctx[REQUEST] == "req-42"
    assert ctx.run(lambda: decimal.getcontext().prec) == 50
