"""The report's table: what each row shows, how wide it is, and what it never shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import programs
import pytest

import interleave

BODY = '''
import threading
import interleave


class Counter:
    def __init__(self):
        self.value = 0


def body():
    c = Counter()

    def inc():
        c.value += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 2


def test_it():
    r = interleave.explore(body, strategy="exhaustive", preemptions=1, executions=100)
    print(r.failure.report)
'''


def test_pytest_assertion_rewriting_helpers_are_never_steps(tmp_path):
    (tmp_path / "test_rewritten.py").write_text(BODY)
    env = dict(os.environ, COLUMNS="100")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                          "test_rewritten.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=env).stdout
    table = out.split("Interleaving (one column per thread):")[1].split("Replay token:")[0]
    assert "test_rewritten.py:22  assert c.value == 2" in table
    for name in ("_call_reprcompare", "_saferepr", "_format_explanation", "@py", "pytest_ar"):
        assert name not in table, table


class Holder:
    def __init__(self) -> None:
        self.items = ""


def long_values() -> None:
    h = Holder()

    def writer(ch: str) -> None:
        h.items = h.items + ch * 70

    ts = [threading.Thread(target=writer, args=(c,)) for c in "ab"]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(h.items) == 140


def test_values_are_capped_with_an_ellipsis_never_cut_by_the_column_and_the_table_grows(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    r = interleave.explore(long_values, strategy="exhaustive", preemptions=1, executions=1000)
    assert r.failure is not None
    narrow = r.failure.report
    value = "'" + "a" * 58 + "…"  # repr capped at 60 characters
    # At 100 columns the value goes to a continuation line, whole.
    assert "write Holder.items =" in narrow and value in narrow
    for line in narrow.split("Interleaving")[1].split("Replay token:")[0].splitlines():
        assert len(line) <= 100, line
    monkeypatch.setenv("COLUMNS", "160")
    wide = interleave.replay(long_values, r.failure.token).failure.report
    assert max(len(line) for line in wide.split("Interleaving")[1].splitlines()[:-4]) > 100
    assert f"write Holder.items = {value}" in wide
    assert textwrap.dedent(wide) != narrow


def test_a_timeout_run_out_early_is_named_in_the_report_and_a_sleep_is_not() -> None:
    """A failure that needs a timeout to run out while others could go on says which one did."""

    def body() -> None:
        ready = threading.Event()

        def producer() -> None:
            time.sleep(1)  # it ends while no other thread can run: not listed
            ready.set()

        t = threading.Thread(target=producer)
        t.start()
        assert ready.wait(timeout=30), "no data within 30 s"
        t.join()

    r = interleave.explore(body, executions=200, seed=0)
    assert r.failure is not None and isinstance(r.failure.exception, AssertionError)
    report = r.failure.report
    assert "Timeouts that ran out while other threads could still run" in report, report
    expired = report.split("Timeouts that ran out", 1)[1].split("Interleaving", 1)[0]
    assert "MainThread: Event.wait() on Event at" in expired and "timed out at 30 s (virtual time)" in expired
    assert "ready.wait(timeout=30)" in expired and "sleep" not in expired
    again = interleave.replay(body, r.failure.token)
    assert again.failure is not None

    def no_address(text: str) -> str:
        return re.sub(r"0x[0-9a-f]+", "0xADDR", text)

    assert no_address(expired) in no_address(again.failure.report)

    def sleeper() -> None:
        time.sleep(5)
        raise ValueError("after a sleep")

    plain = interleave.explore(sleeper, executions=5, seed=0)
    assert plain.failure is not None and "Timeouts that ran out" not in plain.failure.report


def test_the_failing_line_and_the_one_before_are_never_folded_into_setup() -> None:
    """A check that failed before any other thread ran (its sleep ran out first) was folded into
    ``[setup: ...]`` with everything before it: the table showed nothing that explained it."""
    def body() -> None:
        out: list = []
        t = threading.Thread(target=lambda: out.append(1))
        t.start()
        time.sleep(2)
        assert out == [1], out
        t.join()

    r = interleave.explore(body, executions=100, seed=1, strategy="random")
    assert r.failure is not None
    table = r.failure.report.split("Interleaving", 1)[1]
    assert "time.sleep(2)" in table and "assert out == [1], out" in table, table


def _sleeps_to_order() -> None:
    out: list = []
    t = threading.Thread(target=lambda: out.append(1), name="worker")
    t.start()
    time.sleep(0.5)  # "time enough for the worker": a sleep orders no threads
    assert out == [1], out
    t.join()


BACKENDS = ["auto"] + (["settrace"] if sys.version_info >= (3, 12) else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "pct", "exhaustive", "dpor", "portfolio"])
def test_a_sleep_that_ended_while_another_thread_could_run_is_named_with_the_way_out(strategy: str,
                                                                                     backend: str) -> None:
    """A test that sleeps so that another thread gets there first fails; the report says it was the sleep."""
    r = interleave.explore(_sleeps_to_order, strategy=strategy, executions=200, seed=2, backend=backend)
    assert r.failure is not None, strategy
    report = r.failure.report
    paragraph = report.split("Sleeps that ended while other threads could still run", 1)[1].split("Interleaving", 1)[0]
    assert "A sleep orders no threads" in paragraph and 'timeouts="when-stuck"' in paragraph, report
    assert "MainThread: sleep ended at 0.5 s (virtual time)" in paragraph, report
    assert "time.sleep(0.5)" in paragraph, report
    again = interleave.replay(_sleeps_to_order, r.failure.token, backend=backend)
    assert again.failure is not None and paragraph in again.failure.report
    # The way out the report names: a sleep then ends only when no thread can run.
    proof = interleave.explore(_sleeps_to_order, strategy="exhaustive", timeouts="when-stuck", backend=backend)
    assert proof.failure is None and proof.exhausted


def test_timeouts_and_sleeps_that_ran_out_share_one_paragraph() -> None:
    def body() -> None:
        done = threading.Event()
        seen: list = []

        def worker() -> None:
            seen.append(1)
            done.set()

        t = threading.Thread(target=worker)
        t.start()
        time.sleep(0.25)
        assert done.wait(timeout=10) and seen == [1]
        t.join()

    r = interleave.explore(body, strategy="exhaustive", executions=500)
    assert r.failure is not None
    report = r.failure.report
    assert "Timeouts and sleeps that ran out while other threads could still run" in report, report
    assert "MainThread: sleep ended at 0.25 s" in report and "timed out at 10.25 s (virtual time)" in report, report



def test_printing_a_result_shows_the_report_and_its_repr_leaves_out_the_steps() -> None:
    failed = interleave.explore(programs.lost_update, executions=200, seed=0, strategy="random")
    assert failed.failure is not None and failed.failure.trace
    assert str(failed) == failed.failure.report == str(failed.failure)
    assert "Replay token:" in str(failed)
    # The steps are in the report already; a repr that lists each Event runs to many kilobytes.
    assert "Event(" not in repr(failed) and failed.failure.token in repr(failed)
    passed = interleave.explore(lambda: None, executions=3, seed=0)
    assert str(passed) == passed.verdict
    passed.warnings.append("a daemon thread was left running")
    assert str(passed) == f"{passed.verdict}\n\nwarning: a daemon thread was left running"
