"""Linearizability checking: is a class safe to call from several threads, without writing an invariant?

::

    from hypothesis import strategies as st
    from interleave import lincheck

    result = lincheck.check(Registry, [lincheck.op(Registry.put_if_absent, st.integers(0, 1), st.integers(0, 9)),
                                       lincheck.op(Registry.get, st.integers(0, 1))],
                            threads=2, ops_per_thread=3, scenarios=100, executions=200, seed=0)
    result.raise_for_failure()

See ``docs/lincheck.md``.
"""

from __future__ import annotations

from .alone import SpecCallStuck
from .check import check, replay
from .history import CallRecord, Raised
from .operation import Operation, op
from .result import LincheckResult, NotLinearizable
from .scenario import Scenario

__all__ = ["check", "replay", "op", "Operation", "LincheckResult", "NotLinearizable", "Scenario", "CallRecord",
           "Raised", "SpecCallStuck"]
