"""When the code under test runs through installed libraries that are not instrumented, say which."""

from __future__ import annotations

import importlib
import sys
import textwrap
import threading

import pytest

import interleave

LIB = '''
class Counter:
    def __init__(self):
        self.n = 0

    def add(self):
        v = self.n
        self.n = v + 1

    def check(self, expected):
        if self.n != expected:
            raise ValueError(f"lost update: {self.n} != {expected}")
'''


@pytest.fixture()
def racylib(tmp_path, monkeypatch):
    site = tmp_path / "lib" / "site-packages"
    (site / "racylib_hint").mkdir(parents=True)
    (site / "racylib_hint" / "__init__.py").write_text(textwrap.dedent(LIB))
    monkeypatch.syspath_prepend(str(site))
    yield importlib.import_module("racylib_hint")
    sys.modules.pop("racylib_hint", None)


def _body(lib):
    def body() -> None:
        c = lib.Counter()
        ts = [threading.Thread(target=c.add) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        c.check(2)

    return body


@pytest.mark.timeout(120)
def test_a_pass_through_an_uninstrumented_library_names_it(racylib) -> None:
    result = interleave.explore(_body(racylib), executions=100, seed=1)
    assert result.failure is None  # the race is inside the library: invisible
    assert any("racylib_hint" in w and "instrument=['racylib_hint']" in w for w in result.warnings), result.warnings
    assert result.uninstrumented == ["racylib_hint"]  # the same, for tools (the pytest plugin)


@pytest.mark.timeout(120)
def test_instrumented_the_race_is_found_and_no_hint_is_given(racylib) -> None:
    result = interleave.explore(_body(racylib), executions=300, seed=1, instrument=["racylib_hint"])
    assert result.failure is not None and isinstance(result.failure.exception, ValueError)
    assert result.warnings == [] and result.uninstrumented == []
    assert "Not instrumented" not in result.failure.report


@pytest.mark.timeout(120)
def test_a_failure_raised_inside_an_uninstrumented_library_report_says_what_to_add(racylib) -> None:
    def body() -> None:
        c = racylib.Counter()
        c.check(1)  # fails in every schedule, inside the library

    result = interleave.explore(body, executions=5, seed=1)
    assert result.failure is not None
    assert "Not instrumented: the code under test uses racylib_hint" in result.failure.report
    assert "instrument=['racylib_hint']" in result.failure.report


@pytest.mark.timeout(120)
def test_the_printed_replay_call_repeats_instrument_and_reproduces(racylib) -> None:
    """Without instrument= the library has no switch points in the replay, and the token diverges."""
    from interleave.api import explore  # the library's own line (under pytest the plugin prints a command)

    body = _body(racylib)
    result = explore(body, executions=300, seed=1, instrument=["racylib_hint"])
    assert result.failure is not None
    call = result.failure.report.split("Reproduce:", 1)[1].strip().splitlines()[0]
    assert call == f"interleave.replay(_body.<locals>.body, {result.failure.token!r}, instrument=['racylib_hint'])"
    again = eval(call.replace("_body.<locals>.body", "body"), {"interleave": interleave, "body": body})
    assert again.failure is not None and isinstance(again.failure.exception, ValueError), again.verdict
