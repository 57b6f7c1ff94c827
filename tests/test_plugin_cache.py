"""The failure cache: a stored failure is replayed only under the options it was found with."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

EVENT = '''
import threading, os, pytest

@pytest.mark.interleave(executions=300, timeouts=os.environ.get("IL_TIMEOUTS", "anytime"))
def test_done_event():
    done = threading.Event()
    t = threading.Thread(target=done.set)
    t.start()
    assert done.wait(5)  # a safety net: fails only when a timeout may run out early
    t.join()
'''

COUNTER = '''
import threading, os, pytest

class C:
    def __init__(self):
        self.v = 0
    def inc(self):
        self.v += 1

@pytest.mark.interleave(executions=300, model=os.environ.get("IL_MODEL", "instruction"))
def test_counter():
    c = C()
    ts = [threading.Thread(target=c.inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.v == 2
'''

CACHE = ("-p", "cacheprovider")


def test_following_the_timeouts_advice_is_not_undone_by_the_cache(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure found with timeouts='anytime' is not replayed once the marker says when-stuck."""
    pytester.makepyfile(test_ev=EVENT)
    first = pytester.runpytest_inprocess(*CACHE)
    first.assert_outcomes(failed=1)
    assert "when-stuck" in first.stdout.str()
    monkeypatch.setenv("IL_TIMEOUTS", "when-stuck")
    second = pytester.runpytest_inprocess(*CACHE)
    second.assert_outcomes(passed=1)
    assert "was found under other options (timeouts='anytime', now 'when-stuck')" in second.stdout.str()
    # The command-line option has the same effect as the marker's.
    monkeypatch.delenv("IL_TIMEOUTS")
    pytester.runpytest_inprocess(*CACHE).assert_outcomes(failed=1)
    third = pytester.runpytest_inprocess(*CACHE, "--interleave-timeouts=when-stuck")
    third.assert_outcomes(passed=1)
    assert "replayed first" not in third.stdout.str()


def test_a_failure_found_under_another_model_is_forgotten(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost update found under model='instruction' is not replayed once the test uses model='gil'."""
    pytester.makepyfile(test_model=COUNTER)
    pytester.runpytest_inprocess(*CACHE).assert_outcomes(failed=1)
    monkeypatch.setenv("IL_MODEL", "gil")
    second = pytester.runpytest_inprocess(*CACHE)
    second.assert_outcomes(passed=1)
    assert "model='instruction', now 'gil'" in second.stdout.str()
    # Back under the model that found it: stored again by a fresh search, then replayed from the cache.
    monkeypatch.delenv("IL_MODEL")
    pytester.runpytest_inprocess(*CACHE).assert_outcomes(failed=1)
    again = pytester.runpytest_inprocess(*CACHE)
    again.assert_outcomes(failed=1)
    assert "replayed first, from pytest's cache" in again.stdout.str()


RACY = '''
import threading, pytest

class C:
    def __init__(self):
        self.v = 0
    def set1(self):
        self.v = 1

@pytest.mark.interleave(executions=300, races="fail")
def test_race_fail():
    c = C()
    ts = [threading.Thread(target=c.set1) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.v == 1
'''


@pytest.mark.parametrize("where", ["marker", "command line"])
def test_a_race_failure_replays_as_a_race(pytester: pytest.Pytester, where: str) -> None:
    """races='fail': the printed command and the cache replay the race (no store-forget churn every run)."""
    import shlex
    import subprocess

    pytester.makepyfile(test_racefail=RACY if where == "marker" else RACY.replace(', races="fail"', ""))
    opts = () if where == "marker" else ("--interleave-races=fail",)
    first = pytester.runpytest_inprocess(*CACHE, *opts)
    first.assert_outcomes(failed=1)
    line = next(x for x in first.stdout.lines if "--interleave-replay=" in x)
    command = "pytest" + line.split("pytest", 1)[1]
    assert subprocess.run(["bash", "-n", "-c", command]).returncode == 0
    pasted = pytester.runpytest_inprocess("-p", "no:cacheprovider", *shlex.split(command)[1:])
    pasted.assert_outcomes(failed=1)
    assert "data race on" in pasted.stdout.str()
    second = pytester.runpytest_inprocess(*CACHE, *opts)
    second.assert_outcomes(failed=1)
    assert "no longer fails" not in second.stdout.str()
    assert "data race on" in second.stdout.str() and "replayed first, from pytest's cache" in second.stdout.str()
