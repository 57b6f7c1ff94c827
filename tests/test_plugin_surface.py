"""The pytest surface a user types and reads: install name, strategy-parameter options, honest outcomes,
progress, short errors, stored failures, replay commands, and what happens when the plugin is not active."""

from __future__ import annotations

import os
import pty
import shlex
import subprocess
import sys
import threading
from importlib.metadata import distribution, entry_points
from pathlib import Path
from typing import List

import pytest
from test_plugin import COUNTER, FIXED, TOGGLED, runs, token_and_command

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

RACY_BUT_PASSING = COUNTER + '''

@pytest.mark.interleave(executions=20, races="report")
def test_unlocked_writes():
    c = Counter()
    ts = [threading.Thread(target=c.increment) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
'''

BOUNDED = COUNTER + '''

@pytest.mark.interleave(strategy="exhaustive", executions=5)
def test_cut_short():
    two_increments(LockedCounter())


@pytest.mark.interleave(strategy="exhaustive", preemptions=0)
def test_covered():
    two_increments(LockedCounter())
'''


# ----------------------------------------------------------------------------------- install name

def test_distribution_and_entry_point_names() -> None:
    """Installed as pytest-interleave; the plugin is the pytest11 entry point interleave_pytest (plus its guard)."""
    assert distribution("pytest-interleave").metadata["Name"] == "pytest-interleave"
    ours = {ep.name: ep.value for ep in entry_points(group="pytest11") if ep.value.startswith("interleave_pytest")}
    assert ours == {"interleave_pytest": "interleave_pytest", "interleave_pytest_guard": "interleave_pytest.guard"}
    text = (ROOT / "pyproject.toml").read_text()
    assert 'name = "pytest-interleave"' in text and 'requires-python = ">=3.10"' in text


def test_readme_and_ci_agree_on_install_and_test_commands() -> None:
    """The README's checkout install and test commands are exactly what CI runs; users get pytest-interleave."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install pytest-interleave" in readme
    assert "pip install interleave\n" not in readme and "pip install interleave`" not in readme
    assert 'python -m pip install ".[test]"' in readme and 'python -m pip install --quiet ".[test]"' in ci
    assert "python -m pytest -n auto\n" in readme and "python -m pytest -n auto -q -p no:cacheprovider" in ci
    assert "for minor in 10 11 12 13" in ci
    assert "no:interleave_pytest" in readme and "no:interleave`" not in readme
    assert "CPython 3.10 to 3.13" in readme
    tox = (ROOT / "tox.ini").read_text()
    assert "envlist = py310, py311, py312, py313, lint" in tox


def test_p_interleave_pytest_loads_the_plugin_without_autoload(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """PYTEST_DISABLE_PLUGIN_AUTOLOAD: -p interleave_pytest (as documented) runs the search."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_ok=FIXED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "interleave_pytest")
    result.assert_outcomes(passed=1)
    assert runs(pytester) == 200


def test_without_autoload_strict_markers_stops_a_silent_single_run(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of interleave loads: --strict-markers (the README's advice) turns the marked test into an error."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_ok=FIXED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    assert result.ret != 0
    assert "'interleave' not found in `markers` configuration option" in result.stdout.str()
    assert runs(pytester) == 0


# ------------------------------------------------------------------------ strategy-parameter options

def test_preemptions_depth_and_races_options(pytester: pytest.Pytester) -> None:
    """--interleave-preemptions/-depth/-races reach the tests whose strategy takes them; ini keys too."""
    pytester.makepyfile(test_ok=FIXED.replace("executions=200", "executions=20") + '''

@pytest.mark.interleave(strategy="exhaustive")
def test_bounded():
    two_increments(LockedCounter())


@pytest.mark.interleave(strategy="pct", executions=20)
def test_pct():
    two_increments(LockedCounter())
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v", "--interleave-preemptions=1",
                                          "--interleave-depth=2")
    result.assert_outcomes(passed=3)  # portfolio (test_locked) takes neither: it is not an error
    result.stdout.re_match_lines([r"test_ok.py::test_bounded PASSED  exhausted: .*1 preemption\b.*"])
    ini = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v", "-o", "interleave_preemptions=0")
    ini.assert_outcomes(passed=3)
    ini.stdout.re_match_lines([r"test_ok.py::test_bounded PASSED  exhausted: .*0 preemptions.*"])
    raced = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-races=fail", "-k", "pct")
    raced.assert_outcomes(passed=1)  # the locked counter has no race
    racy = pytester.makepyfile(test_racy=RACY_BUT_PASSING.replace('races="report"', 'races="ignore"'))
    failed = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-races=fail", str(racy))
    failed.assert_outcomes(failed=1)
    assert "data race on Counter.value" in failed.stdout.str()


def test_options_are_in_help(pytester: pytest.Pytester) -> None:
    """pytest --help lists the new options and ini keys."""
    text = pytester.runpytest_inprocess("--help").stdout.str()
    for name in ("--interleave-preemptions", "--interleave-depth", "--interleave-races", "interleave_preemptions",
                 "interleave_depth", "interleave_races"):
        assert name in text


@pytest.mark.parametrize("args, expected", [
    (["--interleave-preemptions=-1"], "argument --interleave-preemptions: must be a whole number >= 0 (got '-1')"),
    (["--interleave-depth=0"], "argument --interleave-depth: must be a whole number >= 1 (got '0')"),
    (["--interleave-races=maybe"], "argument --interleave-races: must be one of ignore, report, fail (got 'maybe')"),
    (["-o", "interleave_races=loud"], "ini option interleave_races = 'loud': must be one of ignore, report, fail"),
    (["--interleave-strategy=pct", "--interleave-preemptions=2"],
     "--interleave-strategy (command line): strategy 'pct' takes only depth; got preemptions=2 "
     "(preemptions is for dpor, exhaustive, hypothesis)"),
])
def test_bad_strategy_parameter_options_are_usage_errors(pytester: pytest.Pytester, args: List[str],
                                                         expected: str) -> None:
    """Validated like the other options: a usage error naming the option, what it accepts and the value."""
    pytester.makepyfile(test_ok=FIXED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()
    assert runs(pytester) == 0


def test_exhaustive_without_a_bound_says_which_bound(pytester: pytest.Pytester) -> None:
    """--interleave-strategy=exhaustive alone: the header says the search has no preemption bound."""
    pytester.makepyfile(test_ok=FIXED.replace("executions=200", "executions=20"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-strategy=exhaustive")
    result.assert_outcomes(passed=1)
    assert ("interleave: --interleave-strategy=exhaustive without --interleave-preemptions: all interleavings, "
            "no preemption bound") in result.stdout.str()
    bounded = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-strategy=exhaustive",
                                           "--interleave-preemptions=1")
    assert "without --interleave-preemptions" not in bounded.stdout.str()


# ------------------------------------------------------------------------------- honest outcomes

def test_bounded_search_cut_short_is_listed_at_default_verbosity(pytester: pytest.Pytester) -> None:
    """An exhaustive search stopped by its execution budget passes, but the summary says it is not a proof."""
    pytester.makepyfile(test_bounded=BOUNDED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines([
        r"interleave: 1 bounded search cut short by the budget .*",
        r"  test_bounded.py::test_cut_short: budget spent after 5 executions: not a proof "
        r"\(the execution budget stopped exhaustive before it covered: .*\)",
    ])
    assert "test_covered: budget spent" not in result.stdout.str()


def test_reported_races_appear_in_the_report_section_and_the_summary(pytester: pytest.Pytester) -> None:
    """races="report": the passing test's report section and the summary name the race and both lines."""
    pytester.makepyfile(test_racy=RACY_BUT_PASSING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rP")
    result.assert_outcomes(passed=1)
    text = result.stdout.str()
    assert "interleave: data races (races='report')" in text  # the report section, shown by -rP
    result.stdout.re_match_lines([
        r"interleave: data races \(races='report'\) in 1 test:",
        r"  test_racy.py::test_unlocked_writes: \d+ races?",
        r"    data race on Counter.value:",
        r"      Thread-\d .* Counter.value at test_racy.py:\d+  `self.value \+= 1`",
    ])
    quiet = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert "data race on Counter.value" in quiet.stdout.str()  # in the summary without -rP


# ------------------------------------------------------------------------------------ progress

def _on_a_terminal(args: List[str], cwd: Path) -> str:
    """Run a command with its output on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, close_fds=True)
    os.close(slave)
    chunks: List[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=120)
    finally:
        proc.kill()
        reader.join(timeout=10)
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_live_progress_line_on_a_terminal_only(pytester: pytest.Pytester) -> None:
    """A time-budgeted hunt draws a live line on a terminal (erased afterwards); a pipe gets nothing extra."""
    pytester.makepyfile(test_ok=FIXED)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--interleave-time-budget=2.5", "test_ok.py"]
    seen = _on_a_terminal(args, pytester.path)
    assert "1 passed" in seen, seen
    lines = [part for part in seen.split("\r") if part.startswith("interleave test_locked: ")]
    assert lines, seen
    assert all(" executions, " in line and "/s, portfolio, " in line and " s left" in line for line in lines)
    assert "\rtest_ok.py " in seen  # the test's own line is put back after the live line
    piped = subprocess.run(args, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120).stdout.decode()
    assert "1 passed" in piped
    assert "interleave test_locked:" not in piped and "\r" not in piped


# --------------------------------------------------------------------------------- short errors

@pytest.mark.parametrize("marker, expected", [
    ('executions="many"', "@pytest.mark.interleave: executions must be a whole number >= 1; got 'many'"),
    ('model="sequential"', "@pytest.mark.interleave: model must be one of 'instruction', 'gil'; got 'sequential'"),
    ('races="loud"', "@pytest.mark.interleave: races must be one of 'ignore', 'report', 'fail'; got 'loud'"),
    ('strategy="fastest"', "@pytest.mark.interleave: strategy must be one of 'dpor', 'exhaustive', "),
    ("preemptions=-1", "@pytest.mark.interleave: preemptions must be None or a whole number >= 0; got -1"),
    ('strategy="pct", preemptions=2', "@pytest.mark.interleave: strategy 'pct' takes only depth; got "
                                      "preemptions=2 (preemptions is for dpor, exhaustive, hypothesis)"),
    ("depth=2", "@pytest.mark.interleave: strategy 'portfolio' takes no strategy parameters; got depth=2 "
                "(depth is for pct)"),
])
def test_bad_marker_argument_is_one_line(pytester: pytest.Pytester, marker: str, expected: str) -> None:
    """The test fails with one line naming the argument, what it accepts and the value: no plugin source."""
    pytester.makepyfile(test_bad=COUNTER + f'''

@pytest.mark.interleave({marker})
def test_bad():
    note_run()
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert expected in text
    block = text.split("ERROR at setup of test_bad", 1)[1].split("short test summary", 1)[0]
    assert len([line for line in block.splitlines()[1:] if line.strip() and not line.startswith("=")]) == 1, block
    assert runs(pytester) == 0


def test_bad_argument_to_the_fixture_is_one_line(pytester: pytest.Pytester) -> None:
    """interleave.explore(body, strategy="pct", preemptions=2) through the fixture: one line too."""
    pytester.makepyfile(test_bad='''
def test_call(interleave):
    interleave.explore(lambda: None, strategy="pct", preemptions=2)
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "interleave.explore(): strategy 'pct' takes only depth; got preemptions=2" in text
    assert "fixture.py" not in text and "Traceback" not in text


def test_replay_token_of_another_test_says_so(pytester: pytest.Pytester) -> None:
    """A token that diverges at its first steps may belong to another test or version of the code."""
    pytester.makepyfile(test_race=COUNTER + '''

@pytest.mark.interleave(executions=300)
def test_lost_update():
    two_increments(Counter())


@pytest.mark.interleave(executions=10)
def test_one_thread_then_more_work():
    c = Counter()
    t = threading.Thread(target=c.increment)
    t.start()
    t.join()
    c.increment()
    c.increment()
''')
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "lost")
    token = token_and_command(first.stdout.str())[0]
    own = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "lost", f"--interleave-replay={token}")
    assert "may belong to another test" not in own.stdout.str()
    other = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "one_thread", f"--interleave-replay={token}")
    other.assert_outcomes(failed=1)
    assert ("this token diverged at its first steps: it may belong to another test, or to another version of the "
            "code") in other.stdout.str()


# ------------------------------------------------------------- stored failures, shards, Reproduce

def test_stored_failure_that_no_longer_fails_is_forgotten_with_one_line(pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed code: the stored failure is replayed, passes, and the summary says it was forgotten."""
    pytester.makepyfile(test_toggle=TOGGLED)
    pytester.runpytest_inprocess("-p", "cacheprovider").assert_outcomes(failed=1)
    monkeypatch.setenv("IL_FIXED", "1")
    fixed = pytester.runpytest_inprocess("-p", "cacheprovider")
    fixed.assert_outcomes(passed=1)
    line = "interleave: stored failure of test test_toggle.py::test_toggled no longer fails: forgotten"
    assert fixed.stdout.lines.count(line) == 1
    again = pytester.runpytest_inprocess("-p", "cacheprovider")
    assert "no longer fails" not in again.stdout.str()  # said once, then gone


def test_shard_is_in_the_rerun_hint(pytester: pytest.Pytester) -> None:
    """With a random seed and a shard, the header and the summary give both options needed to rerun."""
    pytester.makepyfile(test_ok=FIXED.replace("executions=200", "executions=10"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-seed=random",
                                          "--interleave-shard=2/4")
    result.assert_outcomes(passed=1)
    header = [line for line in result.stdout.lines if line.startswith("interleave: seed=")]
    assert len(header) == 1, result.stdout.str()
    seed = header[0].split("seed=", 1)[1].split(",", 1)[0]
    rerun = f"rerun with --interleave-seed={seed} --interleave-shard=2/4"
    assert rerun in header[0]
    summary = [line for line in result.stdout.lines if line.startswith("interleave: 1 test,")]
    assert len(summary) == 1 and summary[0].endswith(f"; {rerun}")


def test_reproduce_line_of_a_body_defined_in_the_test_is_a_command_that_runs(pytester: pytest.Pytester) -> None:
    """interleave.explore called directly in a test: Reproduce is the pytest node id with --interleave-replay."""
    pytester.makepyfile(test_direct=COUNTER + '''
import interleave


def test_direct():
    def body():
        note_run()
        two_increments(Counter())
    interleave.explore(body, executions=300, seed=5).raise_for_failure()


def module_level_body():
    two_increments(Counter())


def test_module_level_body_keeps_the_library_line():
    r = interleave.explore(module_level_body, executions=300, seed=5)
    assert f"Reproduce:    interleave.replay(module_level_body, '{r.failure.token}')" in r.failure.report
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "not module_level")
    result.assert_outcomes(failed=1)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "module_level").assert_outcomes(passed=1)
    text = result.stdout.str()
    assert "<locals>" not in text.split("Reproduce:", 1)[1].splitlines()[0]
    token, command = token_and_command(text)
    assert command == f"pytest 'test_direct.py::test_direct' --interleave-replay={token}"
    runs(pytester)
    again = pytester.runpytest_inprocess(*shlex.split(command)[1:], "-p", "no:cacheprovider")
    again.assert_outcomes(failed=1)
    assert token_and_command(again.stdout.str())[0] == token
    assert "lost an update: 1" in again.stdout.str()
    assert runs(pytester) == 1  # the command replayed the token instead of searching


def test_a_calls_strategy_replaces_the_markers_with_its_parameters(pytester: pytest.Pytester) -> None:
    """Marker exhaustive/preemptions=1 + explore(strategy="random"): the call wins, as a command-line strategy would."""
    pytester.makepyfile(test_mix='''
import threading, pytest

def body():
    t = threading.Thread(target=int)
    t.start()
    t.join()

@pytest.mark.interleave(strategy="exhaustive", preemptions=1)
def test_marker_exhaustive_call_random(interleave):
    assert "preemptions" not in interleave.options(strategy="random")
    interleave.explore(body, strategy="random", executions=5).raise_for_failure()

@pytest.mark.interleave(strategy="pct", depth=2)
def test_marker_pct_call_dpor(interleave):
    interleave.explore(body, strategy="dpor").raise_for_failure()

@pytest.mark.interleave(strategy="exhaustive", preemptions=1)
def test_same_strategy_keeps_them(interleave):
    assert interleave.options(strategy="exhaustive")["preemptions"] == 1
''')
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-strategy=exhaustive",
                                 "-k", "dpor").assert_outcomes(passed=1)


def test_ini_depth_with_an_ini_strategy_that_takes_none_is_for_the_pct_tests(pytester: pytest.Pytester) -> None:
    """interleave_strategy = exhaustive + interleave_depth = 2: the depth reaches the pct-marked tests only."""
    pytester.makeini("[pytest]\ninterleave_strategy = exhaustive\ninterleave_depth = 2\n")
    pytester.makepyfile(test_pctm='''
import threading, pytest

@pytest.mark.interleave(strategy="pct", executions=5)
def test_p(interleave):
    assert interleave.options()["depth"] == 2

def test_default(interleave):
    assert "depth" not in interleave.options()
''')
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_module_class_and_function_markers_merge_the_closest_winning(pytester: pytest.Pytester) -> None:
    """pytestmark + class marker + function marker: each argument from the closest marker that gives it."""
    pytester.makepyfile(test_levels='''
import threading, pytest
pytestmark = pytest.mark.interleave(executions=7, strategy="exhaustive", preemptions=1, instrument=["json"])

def body():
    t = threading.Thread(target=int)
    t.start()
    t.join()

def test_module_only(interleave):
    o = interleave.options()
    assert (o["executions"], o["strategy"], o["preemptions"]) == (7, "exhaustive", 1)

@pytest.mark.interleave(strategy="pct", instrument=["csv"])
def test_own_strategy(interleave):
    o = interleave.options()
    assert (o["executions"], o["strategy"], "preemptions" in o) == (7, "pct", False)
    assert set(o["instrument"]) == {"json", "csv"}

@pytest.mark.interleave(executions=3)
class TestC:
    @pytest.mark.interleave(executions=5)
    def test_method_marker(self, interleave):
        assert interleave.options()["executions"] == 5

    def test_class_marker(self, interleave):
        assert (interleave.options()["executions"], interleave.options()["preemptions"]) == (3, 1)

@pytest.mark.interleave(executions=2)
def test_marked_runs_merged():
    body()
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=5)
    assert "stopped exhaustive(preemptions=1)" in result.stdout.str()  # the module's strategy, its own budget
