"""The failure report: what failed, the interleaving as a table, and how to replay it."""

from __future__ import annotations

import linecache
import os
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .instrument.filter import is_user_code_file
from .runtime.outcome import Outcome
from .runtime.recorder import Event

WIDTH = 100
CONTEXT = 3  # rows kept around each switch between threads


def short_path(path: str) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else os.path.basename(path)


def _source(filename: str, lineno: int) -> str:
    return linecache.getline(filename, lineno).strip()


def _fold(events: Sequence[Event]) -> List[Tuple[Event, int]]:
    """Consecutive steps of one thread on one line (and op) become one row with a count."""
    rows: List[Tuple[Event, int]] = []
    line_of: Dict[int, Tuple[str, int]] = {}  # tid -> the line of its latest step
    for i, e in enumerate(events):
        here = (e.filename, e.lineno)
        seen, line_of[e.tid] = line_of.get(e.tid), here
        nxt = events[i + 1] if i + 1 < len(events) else None
        if (seen == here and nxt is not None and not e.access and not e.op and not e.preempted_before
                and nxt.tid == e.tid and (nxt.filename, nxt.lineno) == here and not nxt.preempted_before
                and not nxt.blocked_before):
            continue  # touches nothing shared, back on a line its column already shows, which goes on
        if rows:
            last, n = rows[-1]
            if (not e.access and not e.op and last.tid == e.tid and last.filename == e.filename
                    and last.lineno == e.lineno and not e.preempted_before):
                continue  # a step that touches nothing shared, on a line already shown
            if (last.tid == e.tid and last.filename == e.filename and last.lineno == e.lineno
                    and last.op == e.op and last.access == e.access
                    and not e.preempted_before and not e.blocked_before):
                rows[-1] = (last, n + 1)
                continue
        rows.append((e, 1))
    return rows


def _elide(rows: List[Tuple[Event, int]]) -> List[Optional[Tuple[Event, int]]]:
    """Keep the rows around each thread switch and the end; None marks an elision."""
    keep = set()
    n = len(rows)
    for i, (e, _) in enumerate(rows):
        if i == 0 or rows[i - 1][0].tid != e.tid:
            keep.update(range(max(0, i - CONTEXT), min(n, i + CONTEXT + 1)))
    keep.update(range(max(0, n - 2 * CONTEXT), n))
    out: List[Optional[Tuple[Event, int]]] = []
    for i in range(n):
        if i in keep:
            out.append(rows[i])
        elif out and out[-1] is not None:
            out.append(None)
    return out


def _cell(e: Event, count: int, width: int) -> str:
    times = f" x{count}" if count > 1 else ""
    if e.access:
        s = f"{e.lineno} {e.access}{times}"
    else:
        s = f"{e.lineno}: {e.op if e.op else _source(e.filename, e.lineno)}{times}"
    return s if len(s) <= width else s[: width - 1] + "~"


def render_table(events: Sequence[Event], names: Dict[int, str], width: int = WIDTH) -> str:
    """One column per thread, rows in execution order; ``>>`` marks a preemption."""
    if not events:
        return "  (no steps were recorded)"
    tids = sorted({e.tid for e in events})
    col = max(16, (width - 8) // len(tids) - 3)
    header = "      " + " | ".join(names.get(t, f"T{t}")[:col].ljust(col) for t in tids)
    lines = [header.rstrip(), "      " + "-+-".join("-" * col for _ in tids)]
    rows = _elide(_fold(events))
    for item in rows:
        if item is None:
            lines.append("   ...")
            continue
        e, count = item
        mark = ">>" if e.preempted_before else "  "
        cells = [(_cell(e, count, col) if t == e.tid else "").ljust(col) for t in tids]
        lines.append(f"  {mark}  " + " | ".join(cells).rstrip())
    files = sorted({short_path(e.filename) for e in events if e.filename != "?"})
    lines.append("")
    lines.append("  (line numbers refer to " + ", ".join(files) + "; >> = preempted the thread before)")
    return "\n".join(lines)


def _format_exception(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    user = [fs for fs in tb if is_user_code_file(fs.filename)]
    lines = []
    for fs in (user or list(tb))[-4:]:
        lines.append(f'  File "{short_path(fs.filename)}", line {fs.lineno}, in {fs.name}')
        if fs.line:
            lines.append(f"    {fs.line}")
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines.append(msg)
    return "\n".join(lines)


def wait_for_cycle(blocked: Sequence[Any]) -> List[str]:
    """Threads that wait, in turn, for what the next one holds, back to the first; [] if none."""
    holder = {b.thread: b.holder for b in blocked if b.holder}
    for start in holder:
        path = [start]
        t = holder.get(start)
        while t is not None and t not in path:
            path.append(t)
            t = holder.get(t)
        if t is not None:
            cycle = path[path.index(t):]
            return cycle + [cycle[0]]
    return []


def describe_failure(outcome: Outcome) -> str:
    """One paragraph: the exception, the deadlock cycle, the step limit or the divergence."""
    if outcome.kind == "exception" and outcome.exception is not None:
        where = "the test body" if outcome.tid == 0 else f"thread {outcome.thread} (uncaught; fails the run)"
        return f"Exception in {where}:\n" + _format_exception(outcome.exception)
    if outcome.kind == "deadlock":
        lines = ["Deadlock: no thread can run and no timer is pending."]
        for b in outcome.blocked:
            where = f"{short_path(b.where[0])}:{b.where[1]} in {b.where[2]}" if b.where else "?"
            held = f", held by {b.holder}" if b.holder else ""
            src = f"  `{_source(b.where[0], b.where[1])}`" if b.where else ""
            lines.append(f"  {b.thread} waits for {b.waits_for}{held} at {where}{src}")
        cycle = wait_for_cycle(outcome.blocked)
        if cycle:
            lines.append("  Wait-for cycle: " + " -> ".join(cycle))
        return "\n".join(lines)
    if outcome.kind == "step-limit":
        return (f"Step limit: the execution took {outcome.steps} steps without finishing (a livelock or "
                f"an endless loop; {outcome.thread} was running). Steps are switch points, and loop "
                "iterations of a thread that runs alone.")
    if outcome.kind == "divergence":
        return "Divergence: the program did not follow the recorded schedule: " + outcome.detail
    return outcome.kind


def render_report(*, outcome: Outcome, events: Sequence[Event], names: Dict[int, str],
                  header: str, token: str, replay_hint: str, notes: Sequence[str] = ()) -> str:
    """The whole report, readable at 100 columns, no colours."""
    parts = [header, "", describe_failure(outcome), "", "Interleaving (one column per thread):",
             render_table(events, names)]
    if outcome.kind == "step-limit" and events:
        tail = events[-200:]
        hot: Dict[Tuple[str, int], int] = {}
        for e in tail:
            hot[(e.filename, e.lineno)] = hot.get((e.filename, e.lineno), 0) + 1
        top = sorted(hot.items(), key=lambda kv: -kv[1])[:4]
        parts += ["", "Lines repeating at the end (the loop):"]
        parts += [f"  {short_path(f)}:{ln}  `{_source(f, ln)}`  x{n}" for (f, ln), n in top]
    parts += ["", f"Replay token: {token}", f"Reproduce:    {replay_hint}"]
    parts += list(notes)
    return "\n".join(parts)
