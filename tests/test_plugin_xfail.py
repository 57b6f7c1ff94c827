"""``@pytest.mark.xfail`` on a marked test: judged by what the search found, as pytest judges a plain test."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

RACE = '''
import threading
import pytest


class C:
    def __init__(self):
        self.v = 0

    def inc(self):
        v = self.v
        self.v = v + 1


def lost_update():
    c = C()
    ts = [threading.Thread(target=c.inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.v == 2


@pytest.mark.xfail(raises=AssertionError, reason="known lost update")
@pytest.mark.interleave(executions=200)
def test_named_exception():
    lost_update()


@pytest.mark.xfail(raises=(KeyError, AssertionError))
@pytest.mark.interleave(executions=200)
def test_tuple_of_exceptions():
    lost_update()


@pytest.mark.xfail(raises=KeyError)
@pytest.mark.interleave(executions=200)
def test_other_exception():
    lost_update()


@pytest.mark.xfail
@pytest.mark.interleave(executions=200)
def test_any_exception():
    lost_update()


@pytest.mark.xfail(strict=True)
@pytest.mark.interleave(executions=20)
def test_strict_but_passes():
    pass
'''


def test_xfail_follows_the_exception_the_search_found(pytester: pytest.Pytester) -> None:
    """XFAIL when the found failure raises what xfail names; another exception FAILS with the report."""
    pytester.makepyfile(test_xf=RACE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rxXf")
    result.assert_outcomes(xfailed=3, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "XFAIL test_xf.py::test_named_exception - known lost update",
        "XFAIL test_xf.py::test_tuple_of_exceptions*",
        "XFAIL test_xf.py::test_any_exception*",
        "FAILED test_xf.py::test_other_exception - *lost update*",
        "FAILED test_xf.py::test_strict_but_passes - *XPASS(strict)*",
    ])
    # The failure that does not match is shown as interleave reports it: with its token and command.
    assert "Reproduce:" in out and "test_xf.py::test_other_exception' --interleave-replay=il1_" in out

