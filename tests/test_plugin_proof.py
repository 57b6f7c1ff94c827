"""A passing systematic search says at default verbosity when it is not a proof; a complete one stays quiet."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SEARCHES = '''
import os
import threading
import pytest


class Flag:
    ready = False


@pytest.mark.interleave(strategy="exhaustive")
def test_reads_urandom():
    box = []

    def add():
        if os.urandom(1)[0] & 1:   # not under the harness's control: a replayed prefix may not repeat
            box.append(0)
        box.append(1)

    ts = [threading.Thread(target=add) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


@pytest.mark.interleave(strategy="dpor", preemptions=0)
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


@pytest.mark.interleave(strategy="exhaustive")
def test_complete():
    box = []
    ts = [threading.Thread(target=box.append, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
'''


def test_a_search_that_stopped_early_says_not_a_proof_at_default_verbosity(pytester: pytest.Pytester) -> None:
    """Divergence and the fairness bound end a search early: one line per test in the summary, none for a proof."""
    pytester.makepyfile(test_proof=SEARCHES)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.re_match_lines([
        r"interleave: 2 systematic searches stopped before covering every schedule, so a pass is not a proof.*",
        r"  test_proof.py::test_reads_urandom: stopped after \d+ executions?: not a proof "
        r"\(the program left a replayed schedule; exhaustive\)",
        r"  test_proof.py::test_spin_wait: stopped after \d+ executions?: not a proof "
        r"\(a thread was made to yield by the fairness bound; dpor\(preemptions=0\)\)",
    ])
    out = result.stdout.str()
    assert "test_complete:" not in out


def test_the_report_section_explains_why(pytester: pytest.Pytester) -> None:
    """-rP: the passing test's section has the verdict's full reason and where the program diverged."""
    pytester.makepyfile(test_proof=SEARCHES)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rP", "-k", "urandom or complete")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "interleave: not a proof" in out
    assert "this is not a proof: the program did not take the same path under the same schedule" in out
    assert "the search stopped at execution" in out
