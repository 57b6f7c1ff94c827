"""--interleave-strategy typed for a whole run: marker parameters apply where the strategy takes them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MARKED = '''
import threading
import pytest


def two_appends():
    box = []
    ts = [threading.Thread(target=box.append, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(box) == 2


@pytest.mark.interleave(preemptions=1, executions=5)   # for the ini's exhaustive
def test_bound_for_the_ini_strategy():
    two_appends()


@pytest.mark.interleave(strategy="exhaustive", preemptions=1, executions=5)
def test_own_strategy():
    two_appends()


@pytest.mark.interleave(strategy="pct", depth=2, executions=5)
def test_pct():
    two_appends()


@pytest.mark.interleave(strategy="exhaustive", preemptions=1)
def test_options(interleave):
    interleave.explore(two_appends, executions=5).raise_for_failure()
    opts = interleave.options()
    print("OPTIONS", opts["strategy"], opts.get("preemptions"), opts.get("depth"))
'''


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\ninterleave_strategy = exhaustive\n")
    pytester.makepyfile(test_cli=MARKED)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-s", *args)


def test_a_command_line_strategy_drops_what_it_does_not_take_with_a_note(pytester: pytest.Pytester) -> None:
    """--interleave-strategy=random: no test errors; each marker parameter it drops is one summary line."""
    result = _run(pytester, "--interleave-strategy=random")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([
        "*OPTIONS random None None*",
        "interleave: test_cli.py::test_bound_for_the_ini_strategy: --interleave-strategy=random does not take "
        "the marker's preemptions=1: dropped",
        "interleave: test_cli.py::test_own_strategy: --interleave-strategy=random does not take the marker's "
        "preemptions=1: dropped",
        "interleave: test_cli.py::test_pct: --interleave-strategy=random does not take the marker's depth=2: dropped",
    ])


def test_a_command_line_strategy_keeps_what_it_takes(pytester: pytest.Pytester) -> None:
    """--interleave-strategy=dpor: the markers' preemptions bound DPOR; pct's depth is dropped with a note."""
    result = _run(pytester, "--interleave-strategy=dpor")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*OPTIONS dpor 1 None*"])
    out = result.stdout.str()
    assert "test_pct: --interleave-strategy=dpor does not take the marker's depth=2: dropped" in out
    assert "preemptions=1: dropped" not in out

