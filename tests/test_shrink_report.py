"""Shrinking to the switches that matter, and the report's layout and promises."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import Callable

import pytest
import report_program
from runtime_helpers import run_threads

import interleave
from interleave.token import decode

GOLDEN = os.path.join(os.path.dirname(__file__), "expected_reports")
PY = f"{sys.version_info[0]}{sys.version_info[1]}"


def normalise(report: str) -> str:
    """Remove what legitimately changes between runs: timings and object addresses."""
    report = re.sub(r"in \d+\.\d+ s", "in T s", report)
    return re.sub(r"0x[0-9a-f]+", "0xADDR", report)


@pytest.mark.parametrize("program", ["lost_update", "deadlock", "bank_transfer"])
def test_report_layout_is_pinned(program, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # the layout a non-terminal gets, whatever runs the tests
    fn = getattr(report_program, program)
    r = interleave.explore(fn, strategy="exhaustive", preemptions=1, executions=1000, seed=0)
    assert r.failure is not None
    got = normalise(r.failure.report)
    path = os.path.join(GOLDEN, f"{program}.py{PY}.txt")
    if os.environ.get("INTERLEAVE_REGENERATE_REPORTS"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as f:
            f.write(got)
    with open(path) as f:
        assert got == f.read()
    # The same token replays to the same report, byte for byte but for timings.
    again = interleave.replay(fn, r.failure.token)
    # (Under pytest the Reproduce: line of explore names the test; replay's does not.)
    body = got.split("\n", 3)[3].split("\nReproduce:")[0]
    assert normalise(again.failure.report).split("\n", 3)[3].split("\nReproduce:")[0] == body


def test_report_is_readable_at_100_columns_without_colours():
    r = interleave.explore(report_program.lost_update, strategy="exhaustive", preemptions=1, executions=1000)
    report = r.failure.report
    assert "\x1b[" not in report
    for line in report.splitlines():
        if not line.startswith(("Replay token:", "Reproduce:")):
            assert len(line) <= 100, line


def test_report_shows_the_racing_steps_around_the_preemption():
    r = interleave.explore(report_program.lost_update, strategy="exhaustive", preemptions=1, executions=1000)
    table = r.failure.report.split("Interleaving")[1]
    lines = table.splitlines()
    rows = [line for line in lines if "|" in line and "Counter.value" in line]
    # Worker 1 reads 0, worker 2 preempts it and reads 0 and writes 1, worker 1 writes 1:
    # the lost update, with what each step read or wrote.
    # Each racing step sits in its own thread's column (1 = Thread-1, 2 = Thread-2).
    in_workers = [i for line in table.splitlines() for i, cell in enumerate(line.split("|"))
                  if i >= 1 and "Counter.value" in cell]
    assert in_workers == [1, 2, 2, 1], table
    texts = [" ".join(row.replace(">>", "").split()) for row in rows]
    assert len(rows) == 4, texts
    assert "read Counter.value -> 0" in texts[0] and "read Counter.value -> 0" in texts[1]
    assert "write Counter.value = 1" in texts[2] and "write Counter.value = 1" in texts[3]
    # The preemption is marked on the line that introduces Thread-2's step, with its source.
    before = lines[lines.index(rows[1]) - 1]
    assert before.lstrip().startswith(">>") and "report_program.py:11  self.value += 1" in before
    cols = [row.index("* ") for row in rows]
    assert cols[0] == cols[3] != cols[1] == cols[2]
    assert "found by exhaustive(preemptions=1)" in r.failure.report
    assert f"Reproduce:    interleave.replay(lost_update, '{r.failure.token}')" in r.failure.report


def test_long_random_walk_shrinks_to_the_one_preemption_that_matters():
    raw = interleave.explore(report_program.lost_update, strategy="random", seed=7, executions=2000,
                             shrink=False)
    shrunk = interleave.explore(report_program.lost_update, strategy="random", seed=7, executions=2000)
    assert raw.failure is not None and shrunk.failure is not None
    assert shrunk.failure.preemptions == 1 <= raw.failure.preemptions
    assert shrunk.failure.steps <= raw.failure.steps + 5
    # 1 is minimal: no schedule without preemptions fails.
    proof = interleave.explore(report_program.lost_update, strategy="exhaustive", preemptions=0,
                               executions=1000)
    assert proof.exhausted and proof.failure is None
    # The shrunk token still fails the same way.
    again = interleave.replay(report_program.lost_update, shrunk.failure.token)
    assert type(again.failure.exception) is type(shrunk.failure.exception)
    assert again.failure.kind == "exception"


class Shared:
    pass


def two_steps_apart() -> None:
    s = Shared()
    s.x = 0
    s.y = 0
    seen = []

    def writer() -> None:
        s.x = 1
        s.y = 1

    def reader() -> None:
        seen.append((s.y, s.x))

    ts = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen != [(0, 1)], "reader saw x written but not y"


def test_shrinking_reaches_the_minimum_preemption_count():
    r = interleave.explore(two_steps_apart, strategy="random", seed=3, executions=5000)
    assert r.failure is not None
    k = r.failure.preemptions
    assert k >= 1
    # Nothing with fewer preemptions fails: the shrunk schedule is minimal in preemptions.
    fewer = interleave.explore(two_steps_apart, strategy="exhaustive", preemptions=k - 1, executions=100_000)
    assert fewer.exhausted and fewer.failure is None


_calls = []


def leaks_state_between_executions() -> None:
    # Behaves differently on every call: the harness cannot control state kept across runs.
    _calls.append(1)
    s = Shared()
    s.v = 0

    def bump() -> None:
        s.v += 1
        if len(_calls) % 2:
            s.v += 0

    ts = [threading.Thread(target=bump) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert s.v == 2


def test_nondeterministic_program_is_reported_as_such():
    r = interleave.explore(leaks_state_between_executions, strategy="random", seed=1, executions=2000)
    assert r.failure is not None
    assert not r.failure.reproducible
    assert "nondeterminism the harness does not control" in r.failure.report
    assert "first diverged at step" in r.failure.report


def sleeps_for_a_real_random_time() -> None:
    x: list = []
    t = threading.Thread(target=lambda: x.append(1))
    t.start()
    time.sleep(os.urandom(1)[0] / 1000 + 0.001)
    assert x == [1]
    t.join()


def test_a_divergence_at_the_same_line_names_the_operation_that_differed():
    """One replay slept 0.131 s, the other 0.232 s, at the same line: the thread and line alone read
    as no difference at all."""
    r = interleave.explore(sleeps_for_a_real_random_time, strategy="random", seed=1, executions=200)
    assert r.failure is not None and not r.failure.reproducible
    found = re.search(r"one replay ran MainThread at \S+:(\d+) \((sleep\([\d.]+\))\), another MainThread at "
                      r"\S+:(\d+) \((sleep\([\d.]+\))\)", " ".join(r.failure.report.split()))
    assert found is not None, r.failure.report
    assert found.group(1) == found.group(3) and found.group(2) != found.group(4)


def spins_forever() -> None:
    class Flag:
        ready = False

    flag = Flag()

    def spin() -> None:
        while not flag.ready:
            pass

    t = threading.Thread(target=spin)
    t.start()
    t.join()


def test_step_limit_report_names_the_looping_lines():
    r = interleave.explore(spins_forever, strategy="random", seed=0, executions=5, max_steps=3000)
    assert r.failure is not None and r.failure.kind == "step-limit"
    assert "Lines repeating at the end (the loop):" in r.failure.report
    assert "while not flag.ready:" in r.failure.report


def waits_for_each_other() -> None:
    flags = {"a": False, "b": False}

    def a() -> None:
        while not flags["b"]:
            pass
        flags["a"] = True

    def b() -> None:
        while not flags["a"]:
            pass
        flags["b"] = True

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_a_livelock_a_sampler_finds_is_shrunk_to_a_short_token():
    # Unshrunk, random's schedule had thousands of preemptions, a report of 1,785 lines and a
    # token of 20,000 characters (before session 14).
    r = interleave.explore(waits_for_each_other, strategy="random", seed=1, executions=5, max_steps=20_000)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    assert decode(r.failure.token).switches < 300 and len(r.failure.token) < 200, r.failure.report[:300]
    assert " 0 preemptions" in r.failure.report.splitlines()[2], r.failure.report.splitlines()[2]
    again = interleave.replay(waits_for_each_other, r.failure.token)
    assert again.failure is not None and again.failure.kind == "step-limit"


class _Box:
    n = 0


def _three_counters(pause: float = 0.0) -> Callable[[], None]:
    """Three threads adding 3 each without a lock; each first waits ``pause`` s for real (no CPU)."""
    import select

    def body() -> None:
        b = _Box()

        def inc() -> None:
            if pause:
                select.select([], [], [], pause)
            for _ in range(3):
                b.n += 1

        run_threads(inc, inc, inc)
        assert b.n == 9

    return body


def _token_of(body: Callable[[], None]) -> str:
    r = interleave.explore(body, strategy="random", seed=4, executions=500)
    assert r.failure is not None
    return r.failure.token


def test_the_token_a_seed_gives_does_not_depend_on_the_machine_s_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrinking ends on counted bounds (executions, steps), not on the wall clock: a busy
    machine, here a clock that runs a tenth of a second per look, gives the same token."""
    import interleave.shrink as shrink

    def run(tick: float) -> str:
        now = [0.0]

        def clock() -> float:
            now[0] += tick
            return now[0]

        monkeypatch.setattr(shrink, "_clock", clock)
        return _token_of(_three_counters())

    assert run(0.0) == run(0.1)


class _Count:
    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1


def _oddly_named_threads() -> None:
    c = _Count()
    names = ["worker", "worker", "a\nb|c" + "x" * 60]
    ts = [threading.Thread(target=c.inc, name=n) for n in names]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert c.value == 3


def test_thread_names_are_shown_on_one_line_distinct_and_short() -> None:
    """A newline in a name broke the table's header, a | its columns, and two threads named
    alike were the same person in the diagnosis."""
    r = interleave.explore(_oddly_named_threads, executions=300, seed=1)
    assert r.failure is not None
    table = r.failure.report.split("Interleaving (one column per thread):\n")[1]
    header = table.splitlines()[0]
    assert "worker #1" in header and "worker #2" in header, header
    assert header.count("|") == 3, header  # four columns: the body and three threads
    assert "a\\nb/c" in header and "…" in header, header
    assert all(len(line) <= 100 for line in table.splitlines()[:2])


def test_the_header_counts_the_switches_the_trace_shows_and_the_step_limit_once():
    def body() -> None:
        ev = threading.Event()

        def setter() -> None:
            time.sleep(0.01)
            ev.set()

        t = threading.Thread(target=setter)
        t.start()
        assert ev.wait(5), "event not set in time"
        t.join()

    r = interleave.explore(body, executions=50, seed=0)
    assert r.failure is not None, r.verdict
    header = r.failure.report.splitlines()[2]
    trace = r.failure.trace
    seen = sum(1 for a, b in zip(trace, trace[1:]) if a.tid != b.tid)
    assert seen > 0 and f" {seen} thread switch" in header, (header, seen)
    limited = interleave.explore(spins_forever, strategy="random", seed=0, executions=2, max_steps=3000)
    assert " 3000 steps" in limited.failure.report.splitlines()[2], limited.failure.report.splitlines()[2]


def test_the_step_limit_paragraph_fits_100_columns():
    r = interleave.explore(spins_forever, strategy="random", seed=0, executions=2, max_steps=3000)
    report = r.failure.report
    paragraph = report[report.index("Step limit"):report.index("Interleaving")]
    assert max(len(line) for line in paragraph.splitlines()) <= 100, paragraph


def test_shrink_edits_are_made_one_at_a_time() -> None:
    """A livelock's schedule has tens of thousands of runs: its edits are made as they are tried.

    All at once (three per run, each as long as the schedule) they took 24 GB for a 50,000-run
    schedule (huey's and dramatiq's consumers), before any bound of the shrink was checked.
    """
    import itertools
    import tracemalloc

    from interleave.shrink import _candidates

    runs = [(i % 3, 2) for i in range(3000)]
    tracemalloc.start()
    try:
        first = list(itertools.islice(_candidates(runs), 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(first) == 20 and first[0] == runs[:1500] and first[12] == runs[:2998] + runs[2999:]
    assert peak < 5_000_000, peak  # every edit at once: about 9,000 lists of 3,000 references


def test_time_spent_waiting_does_not_cut_shrinking_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time bound counts this process's CPU seconds: executions that wait (for real I/O here,
    for a CPU on a loaded machine) shrink to the same token as executions that do not."""
    import interleave.shrink as shrink

    body = _three_counters(pause=0.002)
    unhurried = _token_of(body)
    # Shrinking this failure takes about 80 executions: 0.6 s of wall time, 0.12 s of CPU.
    monkeypatch.setattr(shrink, "MAX_SECONDS", 0.4)
    assert _token_of(body) == unhurried
