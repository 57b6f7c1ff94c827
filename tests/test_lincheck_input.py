"""lincheck's input checks and report notes found missing by the session-10 audit (f10, f11)."""

from __future__ import annotations

import threading
from typing import Any, Dict

import pytest
from hypothesis import strategies as st

from interleave import lincheck
from interleave.errors import OptionError

pytestmark = pytest.mark.timeout(120)


class C:
    def __init__(self) -> None:
        self.v = 0
        self.lock = threading.Lock()

    def inc(self) -> int:
        with self.lock:
            self.v += 1
            return self.v

    def add(self, n: int) -> int:
        with self.lock:
            self.v += n
            return self.v


def test_an_operation_without_its_argument_strategy_is_an_error() -> None:
    with pytest.raises(OptionError, match=r"lincheck.op\(add\): add\(self, n\) cannot take 0 arguments .*"
                                          r"lincheck.op\(add, st.integers\(\)\)"):
        lincheck.op(C.add)


def test_an_operation_with_a_strategy_too_many_is_an_error() -> None:
    with pytest.raises(OptionError, match=r"inc\(self\) cannot take 1 argument after the object"):
        lincheck.check(C, [lincheck.op(C.inc, st.integers())], scenarios=3, executions=3)


def test_a_bare_method_that_needs_an_argument_is_an_error() -> None:
    with pytest.raises(OptionError, match="add"):
        lincheck.check(C, [C.add], scenarios=3, executions=3)


def test_right_arities_and_unintrospectable_callables_are_accepted() -> None:
    lincheck.op(C.add, st.integers())
    lincheck.op(lambda c, *rest: None, st.integers(), st.integers())
    lincheck.op(list.append, st.integers())
    lincheck.op(len)  # a builtin with a signature: one argument, the object


def test_a_spec_method_with_another_arity_is_an_error() -> None:
    class Spec:
        def add(self) -> int:
            return 0

    with pytest.raises(OptionError, match=r"spec Spec: add\(\) cannot take 1 argument, as operation add gives it"):
        lincheck.check(C, [lincheck.op(C.add, st.integers())], spec=Spec, scenarios=3, executions=3)


class Entry:
    def __init__(self, k: int) -> None:
        self.k = k


class Reg:
    """Correct (locked), but its result compares by identity: no spec result can equal it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.d: Dict[int, Entry] = {}

    def put(self, k: int) -> Any:
        with self.lock:
            e = self.d[k] = Entry(k)
            return e


def test_a_result_without_eq_is_named_in_the_report() -> None:
    r = lincheck.check(Reg, [lincheck.op(Reg.put, st.integers(0, 1))], threads=2, ops_per_thread=1,
                       scenarios=20, executions=20, seed=0)
    assert r.failure is not None
    assert "results are compared with ==, and Entry (the result of put) has no __eq__" in r.failure.report


def test_no_note_for_results_that_compare_by_content() -> None:
    class Racy:
        def __init__(self) -> None:
            self.v = 0

        def inc(self) -> int:
            v = self.v
            self.v = v + 1
            return v + 1

    r = lincheck.check(Racy, [lincheck.op(Racy.inc)], threads=2, ops_per_thread=1, scenarios=20, executions=200,
                       seed=0)
    assert r.failure is not None
    assert "has no __eq__" not in r.failure.report
