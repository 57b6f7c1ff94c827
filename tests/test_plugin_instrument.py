"""Instrumenting installed libraries from pytest: --interleave-instrument/--interleave-exclude, their ini
keys, the marker's instrument=/exclude= and the fixture, how the levels add up, and their errors."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# An unlocked counter in a package installed in a site-packages directory: not code under test
# unless instrumented, so its lost update is invisible by default.
LIBRARY = '''
class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1
'''

TEST = '''
import threading
import pytest
from mylib.counter import Counter


def two_increments():
    c = Counter()
    ts = [threading.Thread(target=c.increment) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2, f"lost an update: {c.value}"


@pytest.mark.interleave(executions=200)
def test_counter():
    two_increments()
'''

SITE = "env/lib/python3/site-packages"


def _library(pytester: pytest.Pytester, ini: str = "") -> None:
    pkg = pytester.path / SITE / "mylib"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "counter.py").write_text(LIBRARY)
    pytester.makeini(f"[pytest]\npythonpath = {SITE}\n{ini}")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_installed_library_is_found_racy_only_when_instrumented(pytester: pytest.Pytester) -> None:
    _library(pytester)
    pytester.makepyfile(test_lib=TEST)
    blind = _run(pytester)
    blind.assert_outcomes(passed=1)
    # The pass says that it never looked inside mylib, and how to.
    blind.stdout.fnmatch_lines(["interleave: 1 passing test ran installed libraries that are not instrumented*",
                                "  test_lib.py::test_counter: mylib",
                                "  With pytest: --interleave-instrument=mylib, the ini key*"])
    result = _run(pytester, "--interleave-instrument=mylib")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "lost an update: 1" in out and "counter.py:7  self.value += 1" in out
    assert "instrument mylib" in out  # the header says what the run instruments
    assert "not instrumented" not in out


def test_ini_key_instruments_and_the_command_line_excludes(pytester: pytest.Pytester) -> None:
    _library(pytester, "interleave_instrument =\n    no_such_lib\n")
    pytester.makepyfile(test_lib=TEST)
    bad = _run(pytester)  # a name in the ini key that nothing can import is a usage error
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "interleave_instrument (ini)" in bad.stderr.str()
    _library_ini(pytester, "interleave_instrument = other, mylib\n")
    _run(pytester).assert_outcomes(failed=1)
    _run(pytester, "--interleave-exclude=mylib.counter").assert_outcomes(passed=1)  # exclude wins


def _library_ini(pytester: pytest.Pytester, ini: str) -> None:
    (pytester.path / SITE / "other").mkdir(exist_ok=True)
    (pytester.path / SITE / "other" / "__init__.py").write_text("")
    pytester.makeini(f"[pytest]\npythonpath = {SITE}\n{ini}")


def test_pyproject_list(pytester: pytest.Pytester) -> None:
    _library(pytester)
    (pytester.path / "tox.ini").unlink()
    pytester.makepyprojecttoml(f'[tool.pytest.ini_options]\npythonpath = ["{SITE}"]\n'
                               'interleave_instrument = ["mylib"]\n')
    pytester.makepyfile(test_lib=TEST)
    _run(pytester).assert_outcomes(failed=1)


def test_marker_adds_to_the_command_line(pytester: pytest.Pytester) -> None:
    """The marker's instrument= adds to the session's names; it does not replace them."""
    _library(pytester)
    _library_ini(pytester, "")
    pytester.makepyfile(test_lib=TEST.replace("@pytest.mark.interleave(executions=200)",
                                              '@pytest.mark.interleave(executions=200, instrument=["mylib"])'))
    _run(pytester).assert_outcomes(failed=1)
    _run(pytester, "--interleave-instrument=other").assert_outcomes(failed=1)
    _run(pytester, "--interleave-exclude=mylib").assert_outcomes(passed=1)


def test_fixture_explore_uses_the_session_names(pytester: pytest.Pytester) -> None:
    _library(pytester)
    pytester.makepyfile(test_lib=TEST + '''

def test_fixture(interleave):
    interleave.explore(two_increments, executions=200).raise_for_failure()
''')
    _run(pytester, "-k", "fixture").assert_outcomes(passed=1)
    result = _run(pytester, "-k", "fixture", "--interleave-instrument", "mylib")
    result.assert_outcomes(failed=1)
    assert "lost an update" in result.stdout.str()


@pytest.mark.parametrize("args, expected", [
    (["--interleave-instrument="], "--interleave-instrument: must be a module name or a path"),
    (["--interleave-instrument=my lib"], "'my lib' is neither a module name"),
    (["--interleave-exclude=mylib,,2x"], "'2x' is neither a module name"),
    (["--interleave-instrument=no_such_module_here"],
     "--interleave-instrument (command line): cannot instrument 'no_such_module_here'"),
    (["--interleave-instrument=greenlet._greenlet"], "it has no Python source (a C extension"),
])
def test_bad_names_are_usage_errors(pytester: pytest.Pytester, args: list, expected: str) -> None:
    _library(pytester)
    pytester.makepyfile(test_lib=TEST)
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert expected in err, err
    if "cannot instrument" in expected:
        assert "Fix:" in err


def test_options_are_in_help(pytester: pytest.Pytester) -> None:
    text = pytester.runpytest_inprocess("--help").stdout.str()
    for name in ("--interleave-instrument", "--interleave-exclude", "interleave_instrument", "interleave_exclude"):
        assert name in text


def test_bad_name_under_xdist_fails_each_test_with_the_message(pytester: pytest.Pytester) -> None:
    """On an xdist worker a usage error would be the controller's internal error, hiding the message."""
    _library(pytester)
    pytester.makepyfile(test_lib=TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1", "--interleave-instrument=nosuch_lib")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--interleave-instrument (command line): cannot instrument 'nosuch_lib'*"])
    assert "INTERNALERROR" not in result.stdout.str()
