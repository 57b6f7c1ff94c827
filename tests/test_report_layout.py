"""The report's table: what each row shows, how wide it is, and what it never shows."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

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
