"""The one-line diagnosis: each detector on traces that show its pattern, and on traces that don't."""

from __future__ import annotations

import threading
from typing import List, Optional, Tuple

import pytest
import report_program

import interleave
from interleave.diagnosis import diagnose_deadlock, diagnose_exception
from interleave.runtime.recorder import Event

# Lines of a made-up source file, so that the detectors can tell a test from an assignment.
SOURCE = [
    "x.v += 1",  # 1: read-modify-write
    "if x.v is None:",  # 2: a check
    "x.v = make()",  # 3: an act
    "a = x.v",  # 4: a plain read
    "x.v = 2",  # 5: a plain write
    "if x.v:",  # 6: another check
]
NAMES = {0: "Main", 1: "A", 2: "B"}


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text("\n".join(SOURCE) + "\n")
    return str(path)


Step = Tuple[int, str, int, Optional[str]]  # tid, read|write, line, value


def trace(path: str, steps: List[Step], target: int = 7) -> List[Event]:
    return [Event(tid, path, line, "f", None, kind=kind, target=target, label="X.v", value=value)
            for tid, kind, line, value in steps]


def test_lost_update_both_read_before_either_writes(src):
    ev = trace(src, [(1, "read", 1, "0"), (2, "read", 1, "0"), (2, "write", 1, "1"), (1, "write", 1, "1"),
                     (0, "read", 4, "1")])
    d = diagnose_exception(ev, NAMES, failing=0)
    assert d is not None and d.kind == "lost update", d
    assert d.rows == {0, 1, 2, 3}
    assert "lost update of X.v: A and B both read it (0) at prog.py:1" in d.text
    assert "A's write (1) at prog.py:1 overwrote B's (1)" in d.text


def test_no_lost_update_when_the_second_thread_reads_after_the_first_write(src):
    ev = trace(src, [(1, "read", 1, "0"), (1, "write", 1, "1"), (2, "read", 1, "1"), (2, "write", 1, "2"),
                     (0, "read", 4, "2")])
    assert diagnose_exception(ev, NAMES, failing=0) is None


def test_no_diagnosis_when_the_failure_does_not_involve_the_pattern(src):
    # The racy location is never read by the failing thread after the race, nor touched by it.
    ev = trace(src, [(1, "read", 1, "0"), (2, "read", 1, "0"), (2, "write", 1, "1"), (1, "write", 1, "1")])
    assert diagnose_exception(ev, NAMES, failing=0) is None


def test_check_then_act(src):
    ev = trace(src, [(1, "read", 2, "None"), (2, "read", 2, "None"), (2, "write", 3, "<obj>"),
                     (1, "write", 3, "<obj>"), (0, "read", 4, "<obj>")])
    d = diagnose_exception(ev, NAMES, failing=0)
    assert d is not None and d.kind == "check-then-act", d
    assert "A checked it (None) at prog.py:2, then B changed it (<obj>) at prog.py:3 before A acted" in d.text


def test_no_check_then_act_when_the_other_thread_writes_the_checked_value(src):
    ev = trace(src, [(1, "read", 2, "None"), (2, "write", 5, "None"), (1, "write", 3, "<obj>"),
                     (0, "read", 4, "<obj>")])
    assert diagnose_exception(ev, NAMES, failing=0) is None


def test_no_check_then_act_when_the_checker_tests_again_before_acting(src):
    """A fresh test of the value, at another line, is no act on the stale one (reactivex's
    scheduler read its disposed flag again and raised: it was called check-then-act)."""
    ev = trace(src, [(1, "read", 2, "None"), (2, "write", 3, "<obj>"), (1, "read", 6, "<obj>")])
    d = diagnose_exception(ev, NAMES, failing=1)
    assert d is None or d.kind != "check-then-act", d


def test_atomicity_violation_read_write_read(src):
    ev = trace(src, [(1, "read", 4, "0"), (2, "write", 5, "2"), (1, "read", 4, "2")])
    d = diagnose_exception(ev, NAMES, failing=1)
    assert d is not None and d.kind == "atomicity violation", d
    assert "B wrote X.v (2) at prog.py:5 between A's two reads of it (0, then 2)" in d.text


def test_no_atomicity_violation_when_both_reads_see_the_same_value(src):
    ev = trace(src, [(1, "read", 4, "2"), (2, "write", 5, "2"), (1, "read", 4, "2")])
    assert diagnose_exception(ev, NAMES, failing=1) is None


def test_order_violation_used_before_initialised(src):
    ev = trace(src, [(0, "write", 5, "None"), (2, "read", 4, "None"), (1, "write", 5, "<conn>")])
    d = diagnose_exception(ev, NAMES, failing=2)
    assert d is not None and d.kind == "order violation", d
    assert "B used X.v at prog.py:4 while it was still None, before A initialised it (<conn>)" in d.text


def _sync(tid: int, kind: str, other: int) -> Event:
    return Event(tid, "?", 0, "f", None, kind=kind, target=other)


def test_no_diagnosis_where_start_and_join_order_the_pattern_in_every_schedule(src):
    """A read, a thread started and joined that writes, a read again: the program's own sequence,
    not a race (the report claimed an atomicity violation at 0 preemptions)."""
    a, b = trace(src, [(1, "read", 4, "0"), (1, "read", 4, "2")])
    w, = trace(src, [(2, "write", 5, "2")])
    ev = [a, _sync(1, "start", 2), w, _sync(1, "join", 2), b]
    assert diagnose_exception(ev, NAMES, failing=1) is None
    # Started, but not joined: the write may come after the second read in another schedule.
    ev = [a, _sync(1, "start", 2), w, b]
    d = diagnose_exception(ev, NAMES, failing=1)
    assert d is not None and d.kind == "atomicity violation", d
    # A join that returned before the thread ended (a timeout) orders nothing either.
    late, = trace(src, [(2, "read", 4, "2")])
    ev = [a, _sync(1, "start", 2), w, _sync(1, "join", 2), b, late]
    assert diagnose_exception(ev, NAMES, failing=1) is not None


def test_no_lost_update_or_check_then_act_across_a_join(src):
    # A reads, starts and joins B (which reads and writes), then writes back: a sequential overwrite.
    ev = trace(src, [(1, "read", 1, "0")]) + [_sync(1, "start", 2)] + \
        trace(src, [(2, "read", 1, "0"), (2, "write", 1, "1")]) + [_sync(1, "join", 2)] + \
        trace(src, [(1, "write", 1, "1"), (0, "read", 4, "1")])
    assert diagnose_exception(ev, {**NAMES}, failing=0) is None
    ev = trace(src, [(1, "read", 2, "None")]) + [_sync(1, "start", 2)] + trace(src, [(2, "write", 3, "<obj>")]) + \
        [_sync(1, "join", 2)] + trace(src, [(1, "write", 3, "<obj>"), (0, "read", 4, "<obj>")])
    assert diagnose_exception(ev, NAMES, failing=0) is None
    # An order "violation" a start fixes: B can only read after A started it.
    ev = trace(src, [(0, "write", 5, "None")]) + [_sync(0, "start", 2)] + trace(src, [(2, "read", 4, "None")]) + \
        [_sync(0, "join", 2)] + trace(src, [(0, "write", 5, "<conn>")])
    assert diagnose_exception(ev, NAMES, failing=2) is None


def test_no_order_violation_when_the_value_was_set(src):
    ev = trace(src, [(1, "write", 5, "<conn>"), (2, "read", 4, "<conn>")])
    assert diagnose_exception(ev, NAMES, failing=2) is None


def test_deadlock_names_locks_and_lines(src):
    def acq(tid: int, lock: int, line: int) -> List[Event]:
        name = "cell a" if lock == 10 else "cell b"
        return [Event(tid, src, line, "f", None, kind="read", target=20 + lock, label=name),
                Event(tid, src, line, "f", "Lock.acquire", kind="acquire", target=lock, label="Lock")]
    ev = acq(1, 10, 1) + acq(2, 11, 2) + acq(2, 10, 3) + acq(1, 11, 4)
    d = diagnose_deadlock(ev, NAMES, ["A", "B", "A"])
    assert d is not None and d.kind == "deadlock"
    assert "A waits at prog.py:4 for b, which B took at prog.py:2" in d.text
    assert "B waits at prog.py:3 for a, which A took at prog.py:1" in d.text
    # A lock released before the wait is not held: no cycle to explain.
    ev2 = ev[:2] + [Event(1, src, 1, "f", "Lock.release", kind="release", target=10)] + ev[2:]
    assert diagnose_deadlock(ev2, NAMES, ["A", "B", "A"]) is None


# --------------------------------------------------------------------------- end to end


def diagnosis_line(report: str) -> str:
    lines = report.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Diagnosis: ")), None)
    if start is None:
        return ""
    out = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return " ".join(out)


@pytest.mark.parametrize("backend", ["auto", "settrace"])
def test_lost_update_is_diagnosed_end_to_end(backend):
    r = interleave.explore(report_program.lost_update, strategy="exhaustive", preemptions=1,
                           executions=1000, backend=backend)
    assert r.failure is not None
    text = diagnosis_line(r.failure.report)
    assert text.startswith("Diagnosis: lost update of Counter.value: Thread-1 (increment) and "
                           "Thread-2 (increment) both read it (0) at report_program.py:11"), text


def test_deadlock_is_diagnosed_end_to_end():
    r = interleave.explore(report_program.deadlock, strategy="exhaustive", preemptions=1, executions=1000)
    assert r.failure is not None and r.failure.kind == "deadlock"
    text = diagnosis_line(r.failure.report)
    assert "deadlock (lock-order cycle)" in text and "for b, which Thread-2 (two) took at report_program.py:34" in text


class Box:
    def __init__(self) -> None:
        self.v = 0


def unrelated_failure() -> None:
    # Two threads race on a box, but the failure is about something else entirely.
    box = Box()
    flags: List[int] = []

    def bump() -> None:
        box.v += 1

    ts = [threading.Thread(target=bump) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert flags, "no flags"


def test_no_diagnosis_for_a_failure_the_race_does_not_explain():
    r = interleave.explore(unrelated_failure, strategy="exhaustive", preemptions=1, executions=1000)
    assert r.failure is not None
    assert diagnosis_line(r.failure.report) == ""


def test_bank_transfer_is_diagnosed_and_its_race_rows_are_never_elided():
    r = interleave.explore(report_program.bank_transfer, strategy="exhaustive", preemptions=1, executions=1000)
    assert r.failure is not None
    report = r.failure.report
    assert diagnosis_line(report).startswith("Diagnosis: lost update of Account.balance")
    table = report.split("Interleaving (one column per thread):")[1]
    marked = [line for line in table.splitlines() if "| * " in line]
    assert len(marked) == 4 and sum("write Account.balance = 20" in m for m in marked) == 2, marked
    # Each access shows the file, line and source once per run of steps on that line.
    assert "report_program.py:54  src.balance -= amount" in table
    assert "report_program.py:52  if src.balance < amount:" in table


def test_race_rows_in_a_long_trace_are_never_elided(src):
    from interleave.report import render_table

    # Thread 1 runs 80 steps; its racing read sits in the middle, far from any thread switch.
    ev = [Event(1, src, 1 + i % 5, "f", None) for i in range(80)]
    ev[40] = Event(1, src, 4, "f", None, access="read X.v -> 0", kind="read", target=7, label="X.v", value="0")
    ev.append(Event(2, src, 5, "f", None, access="write X.v = 2", kind="write", target=7, label="X.v", value="2"))
    table = render_table(ev, NAMES, 100, racing={7}, pinned={40, 80})
    assert "...\n" in table  # the long trace is elided ...
    assert "* read X.v -> 0" in table  # ... but not the racing read
    assert "* write X.v = 2" in table
