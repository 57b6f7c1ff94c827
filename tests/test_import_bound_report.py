"""Failure reports keep the frames of libraries (marking those not instrumented) and exception chains."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

import interleave

LIB = '''
def lookup(table, key):
    return _inner(table, key)


def _inner(table, key):
    try:
        return table[key]
    except KeyError as exc:
        raise LookupError(f"no entry {key!r}") from exc


def deep(n):
    if n == 0:
        raise RuntimeError("bottom")
    return deep(n - 1)
'''


@pytest.fixture()
def lib(tmp_path, monkeypatch):
    site = tmp_path / "lib" / "site-packages"
    (site / "reportlib_tb").mkdir(parents=True)
    (site / "reportlib_tb" / "__init__.py").write_text(textwrap.dedent(LIB))
    monkeypatch.syspath_prepend(str(site))
    yield importlib.import_module("reportlib_tb")
    sys.modules.pop("reportlib_tb", None)


@pytest.mark.parametrize("instrumented", [True, False])
def test_library_frames_are_kept_and_marked_and_the_cause_is_shown(lib, instrumented: bool) -> None:
    def body() -> None:
        lib.lookup({}, "k")

    kw = {"instrument": ["reportlib_tb"]} if instrumented else {}
    result = interleave.explore(body, executions=1, seed=0, **kw)
    report = result.failure.report
    exc_part = report.split("Interleaving")[0]
    assert 'File "reportlib_tb/__init__.py", line 3, in lookup' in exc_part, exc_part
    assert 'File "reportlib_tb/__init__.py", line 8, in _inner' in exc_part, exc_part
    assert "KeyError: 'k'" in exc_part and "LookupError: no entry 'k'" in exc_part, exc_part
    assert "The above exception was the direct cause of the following exception:" in exc_part
    # The cause comes first, as Python prints it.
    assert exc_part.index("KeyError: 'k'") < exc_part.index("LookupError: no entry")
    assert ("[not instrumented]" in exc_part) is (not instrumented), exc_part


def test_a_deep_traceback_keeps_the_innermost_frames(lib) -> None:
    def body() -> None:
        lib.deep(30)

    report = interleave.explore(body, executions=1, seed=0, instrument=["reportlib_tb"]).failure.report
    exc_part = report.split("Interleaving")[0]
    assert "outer frames not shown" in exc_part
    assert 'line 16, in deep' in exc_part and "RuntimeError: bottom" in exc_part
