"""The printed Reproduce command reproduces: which exploration, which command-line options, which test."""

from __future__ import annotations

import re
import shlex
from typing import List

import pytest

pytest_plugins = ["pytester"]

TWO = '''
import threading
import interleave as library


class C:
    def __init__(self):
        self.v = 0

    def inc(self):
        self.v += 1


def ok():
    t = threading.Thread(target=print)
    t.start()
    t.join()


def test_fixture_two_calls(interleave):
    def racy():
        c = C()
        ts = [threading.Thread(target=c.inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.v == 2

    interleave.explore(ok, executions=10).raise_for_failure()
    interleave.explore(racy, executions=200).raise_for_failure()


def test_library_two_calls():
    def racy():
        c = C()
        ts = [threading.Thread(target=c.inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.v == 2

    library.explore(ok, executions=10).raise_for_failure()
    library.explore(racy, executions=200).raise_for_failure()
'''


def command_args(text: str) -> List[str]:
    """The arguments of the report's Reproduce command, after ``pytest`` (or ``python -m pytest``)."""
    m = re.search(r"Reproduce:\s+(?:.+? -m )?pytest (.*)", text)
    assert m, text
    return shlex.split(m.group(1), comments=True)


@pytest.mark.parametrize("test", ["test_fixture_two_calls", "test_library_two_calls"])
def test_the_command_replays_the_exploration_that_failed(pytester: pytest.Pytester, test: str) -> None:
    """A failure in a test's second exploration: the command replays the token there, not on the first."""
    pytester.makepyfile(test_two=TWO)
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"test_two.py::{test}")
    first.assert_outcomes(failed=1)
    args = command_args(first.stdout.str())
    assert "--interleave-replay-call=2" in args
    again = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    again.assert_outcomes(failed=1)
    out = again.stdout.str()
    assert "divergence" not in out and "AssertionError" in out


LIB = '''
class Counter:
    def __init__(self):
        self.value = 0

    def inc(self):
        self.value += 1
'''

INSTR = '''
import threading, pytest
import mylibzz

@pytest.mark.interleave(executions=300)
def test_lib_counter():
    c = mylibzz.Counter()
    ts = [threading.Thread(target=c.inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2
'''


def test_the_command_keeps_the_command_line_instrument_option(pytester: pytest.Pytester) -> None:
    """A failure inside a library instrumented from the command line replays with that option again."""
    pytester.mkdir("lib")
    pytester.mkdir("lib/site-packages")
    pkg = pytester.mkdir("lib/site-packages/mylibzz")
    (pkg / "__init__.py").write_text(LIB)
    pytester.makeconftest('import sys, os\n'
                          'sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib", "site-packages"))\n')
    pytester.makepyfile(test_instr=INSTR)
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--interleave-instrument=mylibzz")
    first.assert_outcomes(failed=1)
    args = command_args(first.stdout.str())
    assert "--interleave-instrument=mylibzz" in args
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    again.assert_outcomes(failed=1)
    assert "divergence" not in again.stdout.str()


RACE_AND_PLAIN = '''
import threading
import pytest


class C:
    def __init__(self):
        self.v = 0

    def inc(self):
        self.v += 1


@pytest.mark.interleave(executions=200)
def test_race():
    c = C()
    ts = [threading.Thread(target=c.inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.v == 2


@pytest.mark.interleave(executions=5)
def test_nothreads():
    assert [1]


def test_plain():
    assert True
'''


def test_a_token_that_is_not_followed_is_no_pass(pytester: pytest.Pytester) -> None:
    """On a body that never starts a thread the token diverges; on an unmarked test the run says it was unused."""
    pytester.makepyfile(test_mix=RACE_AND_PLAIN)
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_mix.py::test_race")
    token = re.search(r"--interleave-replay=(il1_[A-Za-z0-9_-]+)", first.stdout.str())
    assert token
    other = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_mix.py::test_nothreads",
                                         f"--interleave-replay={token.group(1)}")
    other.assert_outcomes(failed=1)
    assert "divergence" in other.stdout.str() and "the token was not followed" in other.stdout.str()
    plain = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_mix.py::test_plain",
                                         f"--interleave-replay={token.group(1)}")
    assert plain.ret == pytest.ExitCode.USAGE_ERROR
    assert "the token was never replayed" in plain.stdout.str()


def test_the_library_reports_a_schedule_the_program_ended_before_as_a_divergence() -> None:
    """interleave.replay of a two-thread token on a body without threads is a divergence, not a pass."""
    import threading

    import interleave

    def racy() -> None:
        box = [0]

        def inc() -> None:
            box[0] += 1

        ts = [threading.Thread(target=inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert box[0] == 2

    def nothreads() -> None:
        assert [1]

    found = interleave.explore(racy, executions=200, seed=1)
    assert found.failure is not None
    again = interleave.replay(nothreads, found.failure.token)
    assert again.failure is not None and again.failure.kind == "divergence"


class _Box:
    def __init__(self) -> None:
        self.v = 0

    def set1(self) -> None:
        self.v = 1


def racy_writes() -> None:
    """Two threads write the same attribute with nothing ordering them."""
    import threading

    b = _Box()
    ts = [threading.Thread(target=b.set1) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_the_library_line_of_a_race_failure_replays_the_race() -> None:
    """explore(races='fail') prints interleave.replay(..., races='fail'), which fails with the race again."""
    import interleave

    found = interleave.explore(racy_writes, executions=200, seed=3, races="fail")
    assert found.failure is not None and found.failure.kind == "race"
    token = found.failure.token
    assert f"interleave.replay(racy_writes, {token!r}, races='fail')" in found.failure.report
    assert interleave.replay(racy_writes, token).failure is None  # without the check the run passes
    again = interleave.replay(racy_writes, token, races="fail")
    assert again.failure is not None and again.failure.kind == "race"


def test_an_unused_token_under_xdist_is_a_usage_error_and_a_used_one_is_not(pytester: pytest.Pytester) -> None:
    """The xdist controller asks its workers' reports whether any test replayed the token."""
    pytester.makepyfile(test_mix=RACE_AND_PLAIN)
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_mix.py::test_race")
    token = re.search(r"--interleave-replay=(il1_[A-Za-z0-9_-]+)", first.stdout.str())
    assert token
    unused = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "test_mix.py::test_plain",
                                           f"--interleave-replay={token.group(1)}", timeout=120)
    assert unused.ret == pytest.ExitCode.USAGE_ERROR
    assert "the token was never replayed" in unused.stdout.str()
    used = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "test_mix.py::test_race",
                                         "test_mix.py::test_plain", f"--interleave-replay={token.group(1)}",
                                         timeout=120)
    used.assert_outcomes(failed=1, passed=1)
    assert "never replayed" not in used.stdout.str()


def test_a_token_with_several_tests_under_xdist_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """-n 2 and two selected interleave tests: the usage error of a plain run, not an INTERNALERROR."""
    pytester.makepyfile(test_mix=RACE_AND_PLAIN)
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_mix.py::test_race")
    token = re.search(r"--interleave-replay=(il1_[A-Za-z0-9_-]+)", first.stdout.str())
    assert token
    both = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "test_mix.py",
                                         f"--interleave-replay={token.group(1)}", timeout=120)
    text = both.stdout.str() + both.stderr.str()
    assert "INTERNALERROR" not in text
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    assert "--interleave-replay replays one test, but 2 interleave tests are selected" in text
    assert "never replayed" not in text  # the cause is the selection, said once
    assert "passed" not in both.stdout.lines[-1] and "failed" not in both.stdout.lines[-1]


RACES_ONLY = '''
import threading
import pytest


class Box:
    def __init__(self):
        self.v = 0

    def set1(self):
        self.v = 1


@pytest.mark.interleave(executions=200)
def test_racy_writes():
    b = Box()
    ts = [threading.Thread(target=b.set1) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
'''


def test_the_command_repeats_ini_overrides(pytester: pytest.Pytester) -> None:
    """-o interleave_races=fail: the printed command repeats it, so the replay checks races and fails again."""
    pytester.makepyfile(test_overridden_races=RACES_ONLY)  # not test_races: the suite has one
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "interleave_races=fail")
    first.assert_outcomes(failed=1)
    args = command_args(first.stdout.str())
    assert args[args.index("-o") + 1] == "interleave_races=fail"
    again = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    again.assert_outcomes(failed=1)
    assert "race" in again.stdout.str() and "divergence" not in again.stdout.str()


def test_the_command_repeats_an_ini_instrument_override(pytester: pytest.Pytester) -> None:
    """-o interleave_instrument=...: without it the library runs as single steps and the replay diverges."""
    pytester.mkdir("lib")
    pytester.mkdir("lib/site-packages")
    pkg = pytester.mkdir("lib/site-packages/mylibzz")
    (pkg / "__init__.py").write_text(LIB)
    pytester.makeconftest('import sys, os\n'
                          'sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib", "site-packages"))\n')
    pytester.makepyfile(test_instr=INSTR)
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "interleave_instrument=mylibzz")
    first.assert_outcomes(failed=1)
    args = command_args(first.stdout.str())
    assert args[args.index("-o") + 1] == "interleave_instrument=mylibzz"
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    again.assert_outcomes(failed=1)
    assert "divergence" not in again.stdout.str()


@pytest.mark.parametrize("xdist", [[], ["-n", "1"]])
def test_python_dash_m_pytest_prints_a_command_of_the_same_form(pytester: pytest.Pytester, xdist: List[str]) -> None:
    """Started as python -m pytest (pytester's subprocess), the command is this interpreter's -m pytest, and runs."""
    import os
    import shutil
    import subprocess
    import sys

    pytester.makepyfile(test_mix=RACE_AND_PLAIN)
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist, "test_mix.py::test_race", timeout=120)
    first.assert_outcomes(failed=1)
    m = re.search(r"Reproduce:\s+(.*)", first.stdout.str())
    assert m, first.stdout.str()
    words = shlex.split(m.group(1))
    while "=" in words[0]:  # PYTHONHASHSEED=... when the environment fixes it
        words.pop(0)
    assert words[1:3] == ["-m", "pytest"], words
    # The interpreter named is this one: by its bare name only when the PATH finds this very file.
    exe = words[0] if os.sep in words[0] else shutil.which(words[0])
    assert exe is not None and os.path.abspath(exe) == os.path.abspath(sys.executable)
    again = subprocess.run([exe, *words[1:], "-p", "no:cacheprovider"], cwd=str(pytester.path),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "1 failed" in again.stdout
    assert "divergence" not in again.stdout
