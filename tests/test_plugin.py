"""The pytest plugin, driven through pytester: marker, fixture, options, cache, replay, summary, junit."""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List

import hypothesis  # noqa: F401 - imported once here, not again in every in-process pytester run
import pytest

import interleave.hypothesis  # noqa: F401 - same
import interleave.strategies.hypothesis_driven  # noqa: F401 - same

pytest_plugins = ["pytester"]

COUNTER = '''
import os, threading
import pytest

RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs.txt")


def note_run():
    with open(RUNS, "a") as f:
        f.write("x")


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1


class LockedCounter(Counter):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def increment(self):
        with self.lock:
            self.value += 1


def two_increments(counter):
    ts = [threading.Thread(target=counter.increment) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert counter.value == 2, f"lost an update: {counter.value}"
'''

BUGGY = COUNTER + '''

@pytest.mark.interleave(executions=300)
def test_lost_update():
    note_run()
    two_increments(Counter())
'''

FIXED = COUNTER + '''

@pytest.mark.interleave(executions=200)
def test_locked():
    note_run()
    two_increments(LockedCounter())
'''

TOGGLED = COUNTER + '''

@pytest.mark.interleave(executions=300)
def test_toggled():
    note_run()
    two_increments(LockedCounter() if os.environ.get("IL_FIXED") else Counter())
'''


def runs(pytester: pytest.Pytester) -> int:
    """How many executions of the marked bodies ran since the last reset."""
    p = pytester.path / "runs.txt"
    n = len(p.read_text()) if p.exists() else 0
    if p.exists():
        p.unlink()
    return n


def token_and_command(text: str) -> List[str]:
    """The replay token and the replay command from a failure report."""
    token = re.search(r"Replay token: (il1_[A-Za-z0-9_-]+)", text)
    command = re.search(r"Reproduce:\s+(pytest .*)", text)
    assert token and command, text
    return [token.group(1), command.group(1).strip()]


def junit_properties(path: Path) -> Dict[str, Dict[str, str]]:
    """testcase name -> its properties."""
    out: Dict[str, Dict[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        out[case.get("name", "")] = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
    return out


def test_buggy_test_fails_with_report_and_a_replay_command_that_works(pytester: pytest.Pytester) -> None:
    """The report, the token and an exact pytest command; running that command fails the same way, once."""
    pytester.makepyfile(test_race=BUGGY)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "interleave: lost update of Counter.value (AssertionError in MainThread)" in text
    assert "lost an update: 1" in text
    assert "Interleaving (one column per thread)" in text
    token, command = token_and_command(text)
    assert command == f"pytest 'test_race.py::test_lost_update' --interleave-replay={token}"
    searched = runs(pytester)
    assert searched >= 2  # the search, then shrinking and replays of the failing schedule

    args = shlex.split(command)[1:]
    again = pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider", "-v")
    again.assert_outcomes(failed=1)
    assert token_and_command(again.stdout.str())[0] == token
    assert "lost an update: 1" in again.stdout.str()
    assert "replayed the --interleave-replay token: exception" in again.stdout.str()
    assert runs(pytester) == 1  # a replay is one execution, not a search


def test_correct_test_passes_after_every_execution_plain_pytest(pytester: pytest.Pytester) -> None:
    """No wrapper and no flag: plain pytest runs all the executions the marker asks for."""
    pytester.makepyfile(test_ok=FIXED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert runs(pytester) == 200
    # One summary line by default, nothing per test.
    lines = [line for line in result.stdout.lines if line.startswith("interleave:")]
    assert len(lines) == 1 and "1 test, 200 executions" in lines[0] and "executions/s" in lines[0]
    assert "test_ok.py::test_locked PASSED  budget" not in result.stdout.str()


def test_verbose_summary_has_each_test_with_its_verdict(pytester: pytest.Pytester) -> None:
    """-v: one line per test with what it covered."""
    pytester.makepyfile(test_ok=FIXED + '''

@pytest.mark.interleave(strategy="exhaustive", preemptions=1)
def test_exhausted():
    two_increments(LockedCounter())
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.re_match_lines([
        r"test_ok.py::test_locked PASSED  budget: 200 executions \(.*/s\)",
        r"test_ok.py::test_exhausted PASSED  exhausted: .*1 preemption.*, \d+ executions",
        r"interleave: 2 tests, \d+ executions",
    ])


def test_verbose_summary_says_a_dpor_run_with_a_loop_timer_is_no_proof(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_loop="""
import asyncio
import pytest

@pytest.mark.interleave(strategy="dpor")
def test_timer():
    async def main():
        await asyncio.gather(asyncio.sleep(0.1), asyncio.to_thread(int, "1"))
    asyncio.run(main())
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r"test_loop.py::test_timer PASSED  explored, not a proof \(an asyncio loop's timer"])


def test_verbose_summary_says_a_search_the_fairness_bound_cut_is_no_proof(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_spin="""
import threading
import pytest

class Flag:
    ready = False

@pytest.mark.interleave(strategy="dpor")
def test_spin_wait():
    flag = Flag()

    def spin():
        while not flag.ready:
            pass

    def setter():
        flag.ready = True

    ts = [threading.Thread(target=spin), threading.Thread(target=setter)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines(
        [r"test_spin.py::test_spin_wait PASSED  explored, not a proof \(a thread was made to yield by the "
         r"fairness bound\): \d+ executions"])


def test_disabled_with_p_no_interleave_pytest_marked_tests_fail_loudly(pytester: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """-p no:interleave_pytest: a marked test and the fixture fail, saying the plugin is not active."""
    # Under CI=true pytest repeats each error's message, untruncated, in the short summary.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    pytester.makepyfile(test_ok=FIXED + '''

def test_fixture(interleave):
    pass


def test_plain():
    pass
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:interleave_pytest")
    result.assert_outcomes(passed=1, errors=2)
    assert runs(pytester) == 0  # the marked body never ran as a single ordinary run
    text = result.stdout.str()
    assert text.count("the interleave pytest plugin is not active (it was disabled with -p no:interleave_pytest)") == 2
    assert "Load it with -p interleave_pytest" in text
    assert not any(line.startswith("interleave:") for line in result.stdout.lines)


def test_options_and_marker_are_documented(pytester: pytest.Pytester) -> None:
    """pytest --help lists the options and ini keys; pytest --markers lists the marker."""
    help_text = pytester.runpytest_inprocess("--help").stdout.str()
    for option in ("--interleave-executions", "--interleave-strategy", "--interleave-seed", "--interleave-model",
                   "--interleave-time-budget", "--interleave-replay", "--interleave-shard", "--interleave-clear",
                   "interleave_executions", "interleave_time_budget"):
        assert option in help_text
    markers = pytester.runpytest_inprocess("--markers").stdout.str()
    assert "@pytest.mark.interleave(executions=1000" in markers


@pytest.mark.parametrize("args, expected", [
    (["--interleave-executions=0"], "argument --interleave-executions: must be a positive whole number"),
    (["--interleave-executions=many"], "argument --interleave-executions: must be a positive whole number"),
    (["--interleave-seed=-3"], "argument --interleave-seed: must be an integer from 0"),
    (["--interleave-model=sequential"], "argument --interleave-model: must be one of instruction, gil"),
    (["--interleave-timeouts=never"], "argument --interleave-timeouts: must be one of anytime, when-stuck"),
    (["-o", "interleave_timeouts=late"], "ini option interleave_timeouts = 'late': must be one of anytime"),
    (["--interleave-time-budget=0"], "argument --interleave-time-budget: must be a positive number of seconds"),
    (["--interleave-shard=0/4"], "shards are numbered from 1"),
    (["--interleave-shard=5/4"], "argument --interleave-shard: must be i/n with 1 <= i <= n"),
    (["--interleave-shard=half"], "argument --interleave-shard: must be i/n"),
    (["--interleave-replay=il1_nonsense"], "argument --interleave-replay: replay token is damaged"),
    (["--interleave-replay=abc"], "argument --interleave-replay: not a replay token"),
    (["--interleave-strategy=fastest"], "--interleave-strategy (command line): must be one of"),
    (["-o", "interleave_executions=-1"], "ini option interleave_executions = '-1': must be a positive"),
    (["-o", "interleave_strategy=nope"], "interleave_strategy (ini): must be one of"),
])
def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester, args: List[str], expected: str) -> None:
    """A bad value stops pytest with a usage error that names the option and says what it takes."""
    pytester.makepyfile(test_ok=FIXED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()
    assert runs(pytester) == 0


def test_bad_marker_arguments_fail_that_test_only(pytester: pytest.Pytester) -> None:
    """A bad marker is an error of that test only, saying what is wrong and what is accepted."""
    pytester.makepyfile(test_marker=FIXED + '''

@pytest.mark.interleave(execution=10)
def test_typo():
    pass


@pytest.mark.interleave(strategy="random", preemptions=2)
def test_param_the_strategy_lacks():
    two_increments(LockedCounter())


import unittest


class TestOldStyle(unittest.TestCase):
    @pytest.mark.interleave(executions=3)
    def test_method(self):
        note_run()
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=3)
    text = result.stdout.str()
    assert "@pytest.mark.interleave got unknown argument execution; it accepts executions" in text
    assert "strategy 'random' takes no strategy parameters; got preemptions=2" in text
    assert "@pytest.mark.interleave cannot explore TestCaseFunction items" in text  # never a silent single run


SAFETY_NET = """
import threading
import pytest

def body():
    done = threading.Event()
    t = threading.Thread(target=done.set)
    t.start()
    assert done.wait(timeout=5), "never set"
    t.join()

@pytest.mark.interleave(executions=50, timeouts="when-stuck")
def test_marked():
    body()

@pytest.mark.interleave(executions=50)
def test_default():
    body()
"""


def test_timeouts_when_stuck_from_the_marker_or_the_command_line(pytester: pytest.Pytester) -> None:
    """A safety-net timeout fails by default, with a report that names the option; with it, it passes."""
    pytester.makepyfile(test_nets=SAFETY_NET)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "--interleave-timeouts=when-stuck" in result.stdout.str()
    assert "test_nets.py::test_default" in result.stdout.str()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-timeouts=when-stuck")
    result.assert_outcomes(passed=2)


def test_replay_option_needs_one_selected_test(pytester: pytest.Pytester) -> None:
    """--interleave-replay with several interleave tests selected is a usage error that says how to select."""
    pytester.makepyfile(test_race=BUGGY, test_ok=FIXED)
    first = pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_race.py")
    token = token_and_command(first.stdout.str())[0]
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--interleave-replay={token}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--interleave-replay replays one test, but 2 interleave tests are selected" in result.stderr.str()
    chosen = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--interleave-replay={token}", "-k", "lost")
    chosen.assert_outcomes(failed=1)


def test_cache_replays_a_stored_failure_first(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure is stored; the next run replays it as its first and only execution; fixed code forgets it."""
    pytester.makepyfile(test_toggle=TOGGLED)
    cache = ("-p", "cacheprovider")
    first = pytester.runpytest_inprocess(*cache, "-v")
    first.assert_outcomes(failed=1)
    token = token_and_command(first.stdout.str())[0]
    assert "found exception after" in first.stdout.str()
    runs(pytester)

    second = pytester.runpytest_inprocess(*cache, "-v")
    second.assert_outcomes(failed=1)
    assert token_and_command(second.stdout.str())[0] == token
    assert "replayed first, from pytest's cache" in second.stdout.str()
    assert "replayed the failure stored by an earlier run: exception" in second.stdout.str()
    assert runs(pytester) == 1  # replayed before (and instead of) any new search

    # --interleave-clear forgets it: a new search runs.
    third = pytester.runpytest_inprocess(*cache, "-v", "--interleave-clear")
    third.assert_outcomes(failed=1)
    assert "replayed first" not in third.stdout.str()
    assert runs(pytester) > 1

    # Once the code is fixed the stored failure no longer fails: it is dropped and the search passes.
    monkeypatch.setenv("IL_FIXED", "1")
    pytester.runpytest_inprocess(*cache).assert_outcomes(passed=1)
    assert runs(pytester) == 1 + 300  # the stored schedule (no longer failing), then the full search
    monkeypatch.delenv("IL_FIXED")
    fresh = pytester.runpytest_inprocess(*cache, "-v")
    assert "replayed first" not in fresh.stdout.str()
    assert "found exception after" in fresh.stdout.str()


def test_without_the_cache_provider_nothing_is_stored(pytester: pytest.Pytester) -> None:
    """-p no:cacheprovider: every run searches afresh (no replay from the cache), and nothing breaks."""
    pytester.makepyfile(test_race=BUGGY)
    for _ in range(2):
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v")
        result.assert_outcomes(failed=1)
        assert "replayed first" not in result.stdout.str()
        assert "found exception after" in result.stdout.str()
    assert not (pytester.path / ".pytest_cache").exists()


def test_last_failed_and_exitfirst(pytester: pytest.Pytester) -> None:
    """--lf reruns the failing interleave test (replaying its stored failure); -x stops at the first failure."""
    pytester.makepyfile(test_race=BUGGY, test_ok=FIXED, test_race2=BUGGY.replace("test_lost_update", "test_again"))
    pytester.runpytest_inprocess("-p", "cacheprovider").assert_outcomes(failed=2, passed=1)
    lf = pytester.runpytest_inprocess("-p", "cacheprovider", "--lf", "-v")
    lf.assert_outcomes(failed=2)
    assert lf.stdout.str().count("replayed the failure stored by an earlier run") == 2
    x = pytester.runpytest_inprocess("-p", "cacheprovider", "-x", "test_race.py", "test_race2.py")
    x.assert_outcomes(failed=1)


def test_junit_xml_carries_the_token(pytester: pytest.Pytester) -> None:
    """The token, the replay command, the executions and the seed are junit properties."""
    pytester.makepyfile(test_race=BUGGY, test_ok=FIXED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(failed=1, passed=1)
    props = junit_properties(pytester.path / "out.xml")
    token = token_and_command(result.stdout.str())[0]
    assert props["test_lost_update"]["interleave_token"] == token
    assert props["test_lost_update"]["interleave_replay"].endswith(f"--interleave-replay={token}")
    assert props["test_locked"]["interleave_executions"] == "200"
    assert props["test_locked"]["interleave_verdict"] == "budget: 200 executions"
    assert "interleave_token" not in props["test_locked"]


def _seeds(pytester: pytest.Pytester, *args: str) -> Dict[str, int]:
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--junitxml=seeds.xml", *args)
    result.assert_outcomes(passed=3)
    return {name: int(p["interleave_seed"]) for name, p in junit_properties(pytester.path / "seeds.xml").items()}


def test_shards_search_disjoint_seeds(pytester: pytest.Pytester) -> None:
    """--interleave-shard=i/n: the same test gets a different seed in every shard, seed = i-1 (mod n)."""
    pytester.makepyfile(test_ok=FIXED.replace("executions=200", "executions=20") + '''

@pytest.mark.interleave(executions=20)
def test_second():
    two_increments(LockedCounter())


@pytest.mark.interleave(executions=20, seed=12345)
def test_explicit_seed():
    two_increments(LockedCounter())
''')
    unsharded = _seeds(pytester)
    assert unsharded["test_explicit_seed"] == 12345
    assert _seeds(pytester) == unsharded  # the default seed is derived from the node id: runs repeat
    shards = [_seeds(pytester, f"--interleave-shard={i}/4") for i in range(1, 5)]
    for name in unsharded:
        seeds = [s[name] for s in shards]
        assert len(set(seeds)) == 4, (name, seeds)
        assert [s % 4 for s in seeds] == [0, 1, 2, 3]
    assert [s["test_explicit_seed"] for s in shards] == [12345 * 4 + i for i in range(4)]
    random_a = _seeds(pytester, "--interleave-seed=random")
    assert len(set(random_a.values())) == 1  # one session seed, shown in the header for reruns


def test_time_budget_on_the_command_line_hunts_for_that_long(pytester: pytest.Pytester) -> None:
    """--interleave-time-budget lifts the marker's executions: time is the budget."""
    pytester.makepyfile(test_ok=FIXED.replace("executions=200", "executions=5"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v", "--interleave-time-budget=0.3")
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r"test_ok.py::test_locked PASSED  budget: [\d.]+ s, [\d,]+ executions"])
    assert "interleave: time budget 0.3 s per test" in result.stdout.str()
    explicit = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v", "--interleave-executions=7")
    explicit.stdout.re_match_lines([r"test_ok.py::test_locked PASSED  budget: 7 executions"])


def test_fixture_gives_explicit_control(pytester: pytest.Pytester) -> None:
    """interleave.explore / interleave.replay through the fixture, with the pytest replay command in reports."""
    pytester.makepyfile(test_fx=COUNTER + '''

def test_explicit(interleave):
    def body():
        two_increments(Counter())

    result = interleave.explore(body, executions=300, seed=4)
    assert result.failure is not None and result.executions <= 300
    again = interleave.replay(body, result.failure.token)
    assert again.failure is not None and again.failure.token == result.failure.token
    assert "--interleave-replay=" + result.failure.token in result.failure.report


@pytest.mark.interleave(strategy="random", executions=50)
def test_marker_sets_defaults_for_the_fixture(interleave):
    result = interleave.explore(lambda: two_increments(LockedCounter()))
    assert result.failure is None and result.executions == 50 and result.strategy == "random"


def test_raise_for_failure(interleave):
    interleave.explore(lambda: two_increments(Counter()), executions=300).raise_for_failure()
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    assert "Reproduce:    pytest 'test_fx.py::test_raise_for_failure' --interleave-replay=il1_" in result.stdout.str()


def test_fixture_state_shared_between_executions_is_reported(pytester: pytest.Pytester) -> None:
    """A fixture (or captured object) the body mutates is flagged: all executions shared it."""
    pytester.makepyfile(test_leak=COUNTER + '''

@pytest.fixture
def counter():
    return LockedCounter()


@pytest.fixture
def names():
    return ["a", "b"]


@pytest.mark.interleave(executions=20)
def test_leaky(counter, names):
    ts = [threading.Thread(target=counter.increment) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert counter.value >= 2


@pytest.mark.interleave(executions=20)
def test_clean(names):
    counter = LockedCounter()
    two_increments(counter)
    assert names == ["a", "b"]


def test_captured(interleave):
    log = []

    def body():
        log.append(1)

    interleave.explore(body, executions=5)
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "always")
    result.assert_outcomes(passed=3)
    text = result.stdout.str()
    assert "InterleaveFixtureStateWarning: interleave: fixture 'counter' changed while 20 executions" in text
    assert "fixture 'names'" not in text
    assert "'log', made outside the explored body and captured by it, changed" in text
    assert "test_clean" not in text.split("warnings summary")[1]


def test_given_and_the_marker_together(pytester: pytest.Pytester) -> None:
    """@given draws inputs, the marker explores each example; Hypothesis shrinks the input."""
    pytester.makepyfile(test_given=COUNTER + '''
from hypothesis import given, settings, strategies as st


class Adder(Counter):
    def add(self, k):
        for _ in range(k):
            self.value += 1


@pytest.mark.interleave(executions=50)
@settings(max_examples=15, database=None)
@given(k=st.integers(0, 3))
def test_adds(k):
    c = Adder()
    ts = [threading.Thread(target=c.add, args=(k,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2 * k


@pytest.mark.interleave(executions=30)
@settings(max_examples=5, database=None)
@given(k=st.integers(0, 3))
def test_locked(k):
    two_increments(LockedCounter())
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-v", "--junitxml=given.xml")
    result.assert_outcomes(failed=1, passed=1)
    text = result.stdout.str()
    assert "k=1," in text  # shrunk to the smallest failing input
    xml = (pytester.path / "given.xml").read_text()
    assert xml.count('name="interleave_token"') == 1  # the reported example's, not one per example tried
    assert "Replay token: il1_" in text
    assert "Reproduce:    pytest 'test_given.py::test_adds'" in text
    result.stdout.re_match_lines([r"test_given.py::test_locked PASSED  \d+ explorations, each budget: 30 executions"])


def test_given_stops_exploring_once_an_example_is_inconclusive(pytester: pytest.Pytester) -> None:
    """An example that blocks for real makes the test inconclusive: Hypothesis's further examples and its
    shrinking are not each left to wait out the watchdog (that took minutes)."""
    pytester.makepyfile(test_blocks="""
import os, threading
import pytest
from hypothesis import given, settings, strategies as st

STARTS = []


@pytest.mark.interleave(executions=10, stall_timeout=0.3)
@settings(max_examples=20, database=None)
@given(n=st.integers(0, 100))
def test_blocks(n):
    STARTS.append(n)
    r, w = os.pipe()
    try:
        t = threading.Thread(target=os.read, args=(r, 1))
        t.start()
        t.join()
    finally:
        os.close(w)
        os.close(r)


def test_count():
    assert len(STARTS) == 1, STARTS
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    text = result.stdout.str()
    assert "RealBlockingError" in text and "later examples were not explored" in text


def test_xdist_runs_spread_and_report(pytester: pytest.Pytester) -> None:
    """-n 2: failures report as usual, and the controller's summary counts every worker's executions."""
    pytester.makepyfile(test_race=BUGGY, test_ok=FIXED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v", timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    text = result.stdout.str()
    # Started as python -m pytest (pytester's subprocess): the workers print the controller's form.
    assert re.search(r"Reproduce:    \S+ -m pytest 'test_race.py::test_lost_update' --interleave-replay=il1_", text)
    result.stdout.re_match_lines([r"test_ok.py::test_locked PASSED  budget: 200 executions.*",
                                  r"interleave: 2 tests, \d+ executions"])


def test_thread_locals_of_the_test_process_survive_a_deadlock(pytester: pytest.Pytester) -> None:
    """After a deadlocking exploration the process's threading.local data is intact for later tests."""
    pytester.makepyfile(test_dl='''
import threading
import pytest

LOCAL = threading.local()
LOCAL.x = 1


@pytest.mark.interleave(executions=200)
def test_deadlock():
    a, b = threading.Lock(), threading.Lock()

    def one():
        with a:
            with b:
                pass

    def two():
        with b:
            with a:
                pass

    ts = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_local_still_there():
    assert getattr(LOCAL, "x", None) == 1
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    assert "deadlock" in result.stdout.str()


def test_a_failure_survives_warnings_as_errors(pytester: pytest.Pytester) -> None:
    """Under -W error the fixture-state warning replaced the failure: no report, no token, no cache."""
    pytester.makepyfile(test_werror='''
import threading
import pytest


class Counter:
    def __init__(self):
        self.value = 0

    def inc(self):
        for _ in range(20):
            x = self.value
            self.value = x + 1


@pytest.fixture
def seen():
    return []


@pytest.mark.interleave(executions=500, strategy="random", seed=3)
def test_bug(seen):
    seen.append(1)  # changes a fixture in every execution: the warning's case
    c = Counter()
    ts = [threading.Thread(target=c.inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 40 or c.value > 20  # found after some executions, so the fixture changed
''')
    result = pytester.runpytest_inprocess("-W", "error")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "Replay token: il1_" in text and "--interleave-replay=" in text, text
    assert "fixture 'seen' changed" in text


def test_a_test_of_which_no_execution_was_judged_does_not_pass(pytester: pytest.Pytester) -> None:
    """One execution outlasted the time budget: 0 executions judged was a green test."""
    pytester.makepyfile(test_slow='''
import threading
import pytest


class Counter:
    def __init__(self):
        self.value = 0

    def inc(self):
        x = self.value
        sum(range(4 * 10**7))  # about half a second of C, between the read and the write
        self.value = x + 1


@pytest.mark.interleave
def test_slow_bug():
    c = Counter()
    ts = [threading.Thread(target=c.inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--interleave-time-budget=0.05")
    result.assert_outcomes(failed=1)
    assert "interleave judged no execution of this test" in result.stdout.str()


def test_a_marked_test_that_explores_itself_is_a_usage_error_not_a_finding(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nested='''
import threading
import pytest
import interleave


@pytest.mark.interleave(executions=20)
def test_marked_calls_explore():
    def body():
        lock = threading.Lock()
        with lock:
            pass

    interleave.explore(body, executions=5).raise_for_failure()
''')
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "is itself the body: drop the marker" in text
    assert "Replay token" not in text and "--interleave-replay" not in text
    again = pytester.runpytest_inprocess()  # nothing was stored to replay first
    assert "replayed first" not in again.stdout.str()
