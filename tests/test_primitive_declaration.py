"""A cooperative primitive is one class that declares itself: wiring, adoption and DPOR read it.

The primitive here is defined in one file (``token_primitive.py``; a package primitive adds one
import line to ``interleave/sync/__init__.py``) and declared by the fixture: the run swaps the
library's name for it, adopts a real instance made before the run, and DPOR disables an
operation the primitive says would wait. Like interleave's own primitives it is not code under
test (``exclude``): its inside is the harness's, and its operations are the switch points.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any, Callable, Iterator, List

import pytest
import token_primitive
from token_primitive import RealTokens, Tokens

import interleave
from interleave.instrument.access.primitives import (
    OWN_PRIMITIVES,
    STANDS_IN_FOR,
    declare_primitive,
    undeclare_primitive,
)

LIBRARY = "interleave_test_token_library"
HARNESS = token_primitive.__name__


@pytest.fixture
def library() -> Iterator[types.ModuleType]:
    """The library module, with ``Tokens`` declared as the primitive that replaces its ``Tokens``."""
    module = types.ModuleType(LIBRARY)
    module.Tokens = RealTokens  # type: ignore[attr-defined]
    sys.modules[LIBRARY] = module
    declare_primitive("queue", replaces=(f"{LIBRARY}.Tokens",), real_type=RealTokens)(Tokens)
    try:
        yield module
    finally:
        undeclare_primitive(Tokens)
        assert Tokens not in OWN_PRIMITIVES and RealTokens not in STANDS_IN_FOR
        del sys.modules[LIBRARY]


def test_a_declaration_without_the_protocol_is_refused() -> None:
    class Half:
        def would_wait(self) -> bool:
            return False

    with pytest.raises(TypeError, match="Half declares a primitive but does not define adopt, give_back"):
        declare_primitive("lock", real_type=RealTokens)(Half)
    assert Half not in OWN_PRIMITIVES


def test_the_declared_primitive_replaces_the_library_name_during_a_run_only(library: Any) -> None:
    seen: List[type] = []

    def body() -> None:
        seen.append(library.Tokens)

    interleave.explore(body, executions=2, seed=0, exclude=[HARNESS])
    assert seen == [Tokens, Tokens]
    assert library.Tokens is RealTokens


def test_a_real_instance_made_before_the_run_is_adopted_and_given_back(library: Any) -> None:
    real = RealTokens(2)
    kinds: List[type] = []

    def body() -> None:
        kinds.append(type(real))
        real.get()  # the twin's: the real class has no get

    result = interleave.explore(body, executions=3, seed=0, exclude=[HARNESS])
    assert result.failure is None, result.failure
    assert kinds == [Tokens] * 3  # every execution starts from the adopted state (2 tokens)
    assert type(real) is RealTokens and real.n == 1  # what the last execution left, given back


def _producer_consumer(tokens_class: Callable[[], Any], getters: int) -> Callable[[], None]:
    def body() -> None:
        tokens = tokens_class()

        def consume() -> None:
            tokens.get()

        def produce() -> None:
            tokens.put()

        ts = [threading.Thread(target=consume) for _ in range(getters)]
        ts.append(threading.Thread(target=produce))
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return body


def test_dpor_disables_an_operation_the_primitive_says_would_wait(library: Any) -> None:
    """A ``get`` with no token is not run by DPOR (the primitive says it would wait), which
    prunes the orders where it parks first: the same program explores fewer classes than with a
    twin primitive that never says so, and both proofs find nothing wrong."""

    class NeverSaysItWaits(Tokens):
        def would_wait(self) -> bool:
            return False

    declared = interleave.explore(_producer_consumer(Tokens, 1), strategy="dpor", executions=2000,
                                  exclude=[HARNESS])
    blind = interleave.explore(_producer_consumer(NeverSaysItWaits, 1), strategy="dpor", executions=2000,
                               exclude=[HARNESS])
    assert declared.failure is None and declared.exhausted
    assert blind.failure is None and blind.exhausted
    assert declared.strategy_stats["classes"] < blind.strategy_stats["classes"]


@pytest.mark.parametrize("strategy", ["dpor", "random"])
def test_a_get_that_no_put_answers_is_a_deadlock(library: Any, strategy: str) -> None:
    result = interleave.explore(_producer_consumer(Tokens, 2), strategy=strategy,
                                executions=100, seed=1, exclude=[HARNESS])
    assert result.failure is not None and result.failure.kind == "deadlock"
    assert "Tokens (none left)" in result.failure.report
