"""monkeypatch in an explored body does not leave interleave's stand-ins installed after the test."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PATCHING = '''
import queue, threading, time
import interleave as library
import pytest

REAL_SLEEP = time.sleep
REAL_LOCK = threading.Lock
REAL_QUEUE = queue.Queue


@pytest.mark.interleave(executions=3)
def test_patch_in_body(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setattr(threading, "Lock", threading.Lock)
    monkeypatch.setattr(queue, "Queue", queue.Queue)
    t = threading.Thread(target=time.sleep, args=(1,))
    t.start()
    t.join()


def test_patch_through_the_library(monkeypatch):
    def body():
        monkeypatch.setattr(time, "sleep", lambda s: None)
        t = threading.Thread(target=time.sleep, args=(1,))
        t.start()
        t.join()

    library.explore(body, executions=3).raise_for_failure()


def test_after():
    assert time.sleep is REAL_SLEEP
    assert threading.Lock is REAL_LOCK
    assert queue.Queue is REAL_QUEUE
'''


def test_monkeypatch_made_in_the_body_restores_the_real_objects(pytester: pytest.Pytester) -> None:
    """The tests after one that monkeypatched inside its body see the real time.sleep and threading.Lock."""
    pytester.makepyfile(test_mp=PATCHING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
