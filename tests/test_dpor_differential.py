"""DPOR soundness by differential testing against exhaustive search.

Hypothesis generates small concurrent programs (tests/dpor_programs.py: 2-3 threads of reads,
writes, ``+=``, locked sections, acquire/release, a condition, an event, a queue) and the set of
reachable outcomes (final shared state, values the threads read, exceptions, deadlocks) under
``dpor`` must equal the set under unbounded ``exhaustive``. Unbounded exhaustive search is the
ground truth only when it finishes: examples where it would need more than the cap are compared
as far as it got (every outcome it reached must be one DPOR reached too). With ``preemptions=k``
every outcome of ``exhaustive(preemptions=k)`` must be one of ``dpor(preemptions=k)``. Programs
include sleeps and timed waits (whether a wait times out is a scheduling choice).

A second family (``P.EXTENDED``) reaches shared state the hard ways: an instance's ``__dict__``
and ``vars()``, ``setattr``/``getattr`` with computed names, ``exec``/``eval`` of code under test,
generators finished with ``send``/``throw``, a property and a data descriptor, ``__slots__``,
``defaultdict``, dict views and iteration, nested containers. Zero differences are allowed.

The example counts are modest here (CI); ``INTERLEAVE_DPOR_LONG=1`` multiplies the extended
family's examples and exhaustive cap by 20 (``=5``: by 5), and
benchmarks/bench_dpor.py runs the long version of the first family.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Sequence

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, os.path.dirname(__file__))
import dpor_programs as P  # noqa: E402

from interleave.strategies.dpor import DporStrategy  # noqa: E402
from interleave.strategies.exhaustive import ExhaustiveStrategy  # noqa: E402

# Exhaustive executions allowed per example: the ground truth must stay affordable.
CAP = 1200
# INTERLEAVE_DPOR_LONG=1 (or a factor, e.g. =5): more examples and a higher exhaustive cap.
_LONG_ENV = os.environ.get("INTERLEAVE_DPOR_LONG", "")
LONG = (int(_LONG_ENV) if _LONG_ENV.isdigit() and int(_LONG_ENV) > 1 else 20) if _LONG_ENV else 1
# The whole Hypothesis run is one test for pytest-timeout: scale its limit with the run.
SCALED_TIMEOUT = pytest.mark.timeout(300 * LONG)
SETTINGS: Dict[str, Any] = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _compare(threads: Sequence[Sequence[Any]], preemptions: Any = None, cap: int = CAP) -> None:
    body, record, src = P.make_body(threads)
    got, n_dpor, done = P.outcomes(body, record, DporStrategy(preemptions), 20_000)
    assert done, f"dpor did not finish:\n{src}"
    truth, n_exh, finished = P.outcomes(body, record, ExhaustiveStrategy(preemptions), cap * LONG)
    missing = truth - got
    assert not missing, (f"dpor missed outcomes that exhaustive reached ({n_dpor} vs {n_exh} executions):\n"
                         f"{sorted(map(repr, missing))}\n{src}")
    if finished and preemptions is None:
        # Every DPOR execution is a real one, so it cannot find more than the ground truth. (With
        # a bound it may: it counts preemptions between its own events, where a thread it knows
        # would block is not preempted, so its bound admits some schedules exhaustive's does not.)
        assert got == truth, f"dpor found outcomes exhaustive did not:\n{sorted(map(repr, got - truth))}\n{src}"


@settings(max_examples=15, **SETTINGS)
@seed(20241125)
@given(P.strategy_ops(st, max_threads=2, max_ops=2))
def test_two_threads_same_outcomes_as_exhaustive(threads: List[List[Any]]) -> None:
    _compare(threads)


@settings(max_examples=8, **SETTINGS)
@seed(7)
@given(P.strategy_ops(st, max_threads=3, max_ops=1))
def test_three_threads_same_outcomes_as_exhaustive(threads: List[List[Any]]) -> None:
    _compare(threads)


@settings(max_examples=10, **SETTINGS)
@seed(3)
@given(P.strategy_ops(st, max_threads=3, max_ops=2), st.sampled_from([1, 2]))
def test_preemption_bounded_dpor_covers_bounded_exhaustive(threads: List[List[Any]], k: int) -> None:
    _compare(threads, preemptions=k)


@pytest.mark.parametrize("threads", [
    [[("incr", "x")], [("incr", "x")]],                              # lost update
    [[("locked", 0, "x")], [("locked", 0, "x")]],                    # locked
    [[("wait",)], [("notify",)]],                                   # waiter-first condition
    [[("notify",)], [("wait",)]],
    [[("get",)], [("put", 1)]],                                     # consumer blocked on get
    [[("set",)], [("evwait",)]],
    [[("check", "x", 1)], [("incr", "x")]],                         # an exception in some orders
    [[("acqrel", 0, "x"), ("read", "y")], [("write", "y", 1), ("locked", 0, "x")]],
    [[("dict",)], [("dict",)]],
    [[("global",)], [("copy", "x", "y")]],
])
def test_hand_picked_programs(threads: List[List[Any]]) -> None:
    _compare(threads)


def _extended(st_: Any, threads: int, ops: int) -> Any:
    kinds = P.EXTENDED + ("read", "write", "incr", "locked")
    return P.strategy_ops(st_, max_threads=threads, max_ops=ops, kinds=kinds)


@SCALED_TIMEOUT
@settings(max_examples=12 * LONG, **SETTINGS)
@seed(91)
@given(_extended(st, 2, 2))
def test_extended_two_threads_same_outcomes_as_exhaustive(threads: List[List[Any]]) -> None:
    _compare(threads, cap=600)


@SCALED_TIMEOUT
@settings(max_examples=4 * LONG, **SETTINGS)
@seed(92)
@given(_extended(st, 3, 1))
def test_extended_three_threads_same_outcomes_as_exhaustive(threads: List[List[Any]]) -> None:
    _compare(threads, cap=600)


@pytest.mark.parametrize("threads", [
    [[("incr", "x")], [("dictattr", "x")]],                          # attribute vs instance dict
    [[("vars", "x")], [("incr", "x")]],
    [[("setattr", "y")], [("setattr", "y")]],                       # computed names
    [[("exec",)], [("incr", "x")]],                                 # exec'd code under test
    [[("eval",)], [("exec",)]],
    [[("gensend",)], [("gensend",)]],                               # a yield inside the update
    [[("genthrow",)], [("incr", "y")]],                             # the update in a throw() handler
    [[("prop",)], [("incr", "x")]],                                 # property over x
    [[("descr",)], [("descr",)]],                                   # data descriptor
    [[("slots",)], [("slots",)]],
    [[("ddict",)], [("dview",)]],                                   # defaultdict, views
    [[("dput",)], [("diter",)]],                                    # dict iteration vs insertion
    [[("nested",)], [("nestedread",)]],                             # nested containers
    [[("nested",)], [("nested",)]],
])
def test_extended_hand_picked_programs(threads: List[List[Any]]) -> None:
    _compare(threads)


@SCALED_TIMEOUT
@settings(max_examples=25 * LONG, **SETTINGS)
@seed(1010)
@given(P.strategy_ops(st, max_threads=2, max_ops=2, kinds=P.CALLBACKS))
def test_callbacks_and_call_values_same_outcomes_as_exhaustive(threads: List[List[Any]]) -> None:
    """The callback family (``P.CALLBACKS``): conflicts inside ``re.sub``/``reduce``/``map``
    callbacks, through a constructed iterator, a returned object or a thread-local's method."""
    _compare(threads, cap=2000)


@pytest.mark.parametrize("threads", [
    [[("ret",)], [("boxw",)]],                                      # an object a method returned
    [[("nested",), ("ctor",)], [("nested",)]],                      # an iterator class in a loop header
    [[("resub",)], [("write", "x", 1)]],                            # re.sub's function reads x
    [[("nested",), ("reduce",)], [("nested",), ("incr", "y")]],     # reduce's function, its list
    [[("nested",), ("mapl",)], [("nested",), ("write", "x", 2)]],
    [[("nested",), ("genany",)], [("nested",), ("incr", "x")]],
    [[("nested",), ("enum",)], [("nested",)]],
    [[("nested",), ("chain",)], [("nested",), ("incr", "x")]],
    [[("nested",), ("filt",)], [("write", "x", 1), ("nested",)]],
    [[("local",)], [("local",), ("incr", "x")]],
])
def test_callback_hand_picked_programs(threads: List[List[Any]]) -> None:
    _compare(threads)
