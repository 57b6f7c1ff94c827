"""The failure report: what failed, the interleaving as a table, and how to replay it."""

from __future__ import annotations

import os
import shutil
import textwrap
from typing import AbstractSet, Any, Dict, List, Optional, Sequence, Set, Tuple

from .diagnosis import Diagnosis, diagnose_deadlock, diagnose_exception, lock_names, readable_names
from .early_timeouts import expired_lines
from .result import semantics
from .runtime.outcome import Outcome
from .runtime.recorder import Event
from .tracebacks import foreign, format_exception, short_path, site_text, source_line
from .versions import python

WIDTH = 100  # the layout when the width is not known (not a terminal): goldens are stable
MAX_WIDTH = 200
MARGIN = 6  # room for the ">>" preemption mark
MIN_TEXT = 46  # columns the rightmost lane keeps for its text
CONTEXT = 3  # rows kept around each switch between threads
ELIDE_ABOVE = 40  # shorter tables are shown whole


def report_width(width: Optional[int] = None) -> int:
    """The width to lay the table out for: ``width``, else the terminal's (100 when not a terminal)."""
    if width is None:
        width = shutil.get_terminal_size((WIDTH, 24)).columns
    return max(WIDTH, min(width, MAX_WIDTH))


class _Row:
    """One displayed step (or several equal ones), or a fold of steps that do not matter."""

    __slots__ = ("e", "count", "index", "fold")

    def __init__(self, e: Optional[Event], index: int, fold: str = "") -> None:
        self.e = e
        self.count = 1
        self.index = index
        self.fold = fold


def _conflicts(events: Sequence[Event], lo: int, hi: int) -> Set[int]:
    """Locations that two threads touch between ``lo`` and ``hi``, at least one of them writing."""
    tids: Dict[int, Set[int]] = {}
    written: Set[int] = set()
    for e in events[lo:hi]:
        if e.kind in ("read", "write") and e.target is not None:
            tids.setdefault(e.target, set()).add(e.tid)
            if e.kind == "write":
                written.add(e.target)
    return {x for x, ts in tids.items() if len(ts) > 1 and x in written}


def _rows(events: Sequence[Event], racing: Set[int], pinned: Set[int],
          kept: AbstractSet[int] = frozenset()) -> List[_Row]:
    """Rows in execution order: setup and teardown folded, steps on a line already shown dropped.

    ``kept``: steps never folded (the failing thread's last lines), without the ``*`` of ``pinned``.
    """
    n = len(events)
    first = next((i for i, e in enumerate(events) if e.tid != 0), n)
    last = max((i for i, e in enumerate(events) if e.tid != 0), default=n - 1)

    def touches(i: int) -> bool:
        e = events[i]
        return i in pinned or i in kept or (e.target in racing and e.kind in ("read", "write"))

    rows: List[_Row] = []
    line_of: Dict[int, Tuple[str, int]] = {}
    fold: List[int] = []
    fold_part = ""

    def flush() -> None:
        if fold:
            rows.append(_Row(events[fold[0]], fold[0], f"{fold_part}: {len(fold)} steps, {_span(events, fold)}"))
            fold.clear()

    for i, e in enumerate(events):
        # With no other thread there is no setup around anything: what the body did is the story.
        part = "" if first == n else "setup" if i < first else ("teardown" if i > last else "")
        here = (e.filename, e.lineno)
        if part and not touches(i):
            if line_of.get(e.tid) == here and not fold:
                continue  # more of a line just shown
            if part != fold_part:
                flush()
            fold.append(i)
            fold_part = part
            line_of.pop(e.tid, None)
            continue
        flush()
        seen, line_of[e.tid] = line_of.get(e.tid), here
        if not e.access and not e.op and not e.preempted_before and not e.blocked_before and seen == here:
            continue  # touches nothing shared, on the line its thread shows already
        if rows and not rows[-1].fold:
            last_row = rows[-1].e
            assert last_row is not None
            if (last_row.tid == e.tid and (last_row.filename, last_row.lineno) == here
                    and last_row.op == e.op and last_row.access == e.access and not e.preempted_before
                    and not e.blocked_before and rows[-1].index not in pinned and i not in pinned):
                rows[-1].count += 1
                continue
            if (not e.access and not e.op and last_row.tid == e.tid
                    and (last_row.filename, last_row.lineno) == here and not e.preempted_before):
                continue
        rows.append(_Row(e, i))
    flush()
    return rows


def _last_lines(events: Sequence[Event], tid: int, lines: int = 2) -> Set[int]:
    """The steps of ``tid``'s last ``lines`` source lines: where it failed and just before (a sleep)."""
    out: Set[int] = set()
    seen: List[Tuple[str, int]] = []
    for i in range(len(events) - 1, -1, -1):
        e = events[i]
        if e.tid != tid:
            continue
        here = (e.filename, e.lineno)
        if here not in seen:
            if len(seen) == lines:
                break
            seen.append(here)
        out.add(i)
    return out


def _span(events: Sequence[Event], idx: List[int]) -> str:
    files = {events[i].filename for i in idx}
    lines = [events[i].lineno for i in idx]
    where = _name_of(events[idx[0]].filename) if len(files) == 1 else f"{len(files)} files"
    lo, hi = min(lines), max(lines)
    return f"{where}:{lo}" + (f"-{hi}" if hi != lo else "") + ", nothing the race touches"


def _elide(rows: List[_Row], keep_rows: Set[int]) -> List[Optional[_Row]]:
    """Long traces keep the rows around each thread switch, the race, folds and the end; None = gap."""
    n = len(rows)
    if n <= ELIDE_ABOVE:
        return list(rows)
    keep: Set[int] = set()
    for i, r in enumerate(rows):
        prev = rows[i - 1].e if i else None
        if r.fold or r.index in keep_rows or (r.e is not None and (prev is None or prev.tid != r.e.tid)):
            keep.update(range(max(0, i - CONTEXT), min(n, i + CONTEXT + 1)))
    keep.update(range(max(0, n - 2 * CONTEXT), n))
    out: List[Optional[_Row]] = []
    for i in range(n):
        if i in keep:
            out.append(rows[i])
        elif out and out[-1] is not None:
            out.append(None)
    return out


_NAMES: Dict[str, str] = {}


def _name_of(filename: str) -> str:
    return _NAMES.get(filename) or short_path(filename)


def _set_names(events: Sequence[Event]) -> None:
    """file.py for each file, or the path below the working directory when two share a name."""
    _NAMES.clear()
    files = {e.filename for e in events if e.filename != "?"}
    base: Dict[str, Set[str]] = {}
    for f in files:
        base.setdefault(os.path.basename(f), set()).add(f)
    for f in files:
        _NAMES[f] = os.path.basename(f) if len(base[os.path.basename(f)]) == 1 else short_path(f)


def _wrap(text: str, first: int, rest: int) -> List[str]:
    """Split at spaces only (never inside a value or a name): ``first`` columns, then ``rest``."""
    body = text.lstrip(" ")
    lead = text[: len(text) - len(body)]
    lines: List[str] = []
    cur = lead
    limit = first
    for w in body.split(" "):
        cand = cur + (" " if cur.strip() else "") + w
        if len(cand) <= limit or not cur.strip():
            cur = cand
        else:
            lines.append(cur)
            cur, limit = w, rest
    lines.append(cur)
    return lines


def _row_texts(rows: List[Optional[_Row]], diagnosis_rows: Set[int],
               locks: Optional[Dict[int, str]] = None) -> List[Tuple[Optional[int], str, bool]]:
    """(tid or None for a gap, text, preempted) per output line before layout.

    ``locks``: lock number -> its name, to say which lock an acquire or release is about.
    """
    out: List[Tuple[Optional[int], str, bool]] = []
    prev: Optional[Tuple[int, str, int]] = None  # (tid, file, line) whose source was shown last
    for r in rows:
        if r is None:
            out.append((None, "...", False))
            prev = None
            continue
        e = r.e
        assert e is not None
        if r.fold:
            out.append((e.tid, f"[{r.fold}]", False))
            prev = None
            continue
        times = f" x{r.count}" if r.count > 1 else ""
        here = (e.tid, e.filename, e.lineno)
        new_line = here != prev or e.preempted_before
        if new_line:
            loc = f"{_name_of(e.filename)}:{e.lineno}" if e.filename != "?" else "?"
            src = source_line(e.filename, e.lineno) if e.filename != "?" else ""
            head = f"{loc}  {src}".rstrip()
            if not e.access and not e.op:
                out.append((e.tid, head + times, e.preempted_before))
                prev = here
                continue
            out.append((e.tid, head, e.preempted_before))
            prev = here
        what = e.access if e.access else (e.op or "")
        if locks and e.kind in ("acquire", "release") and e.target in locks:
            what += f" ({locks[e.target]})"
        mark = "* " if r.index in diagnosis_rows else "  "
        out.append((e.tid, f"{mark}{what}{times}", False))
    return out


def render_table(events: Sequence[Event], names: Dict[int, str], width: Optional[int] = None, *,
                 racing: Optional[Set[int]] = None, pinned: Optional[Set[int]] = None,
                 diagnosed: str = "race", failing: Optional[int] = None) -> str:
    """One lane per thread, rows in execution order; ``>>`` marks a preemption.

    ``racing`` are the locations of the race (their accesses are never folded or elided) and
    ``pinned`` event indices that must be shown (marked ``*``).
    """
    events = [e for e in events if not foreign(e.filename)]
    if not events:
        return "  (no steps were recorded)"
    width = report_width(width)
    _set_names(events)
    pinned = set(pinned or ())
    if racing is None:
        first = next((i for i, e in enumerate(events) if e.tid != 0), len(events))
        last = max((i for i, e in enumerate(events) if e.tid != 0), default=0)
        racing = _conflicts(events, first, last + 1)
    race_rows = {i for i, e in enumerate(events) if e.target in racing and e.kind in ("read", "write")}
    kept = _last_lines(events, failing) if failing is not None else set()
    rows = _elide(_rows(events, racing, pinned, kept), race_rows | pinned | kept)
    tids = sorted({e.tid for e in events})
    lane_of = {t: k for k, t in enumerate(tids)}
    longest = max(len(names.get(t, f"T{t}")) for t in tids) + 3
    lane = longest if len(tids) == 1 else max(8, min(longest, 32, (width - MARGIN - MIN_TEXT) // (len(tids) - 1)))

    def prefix(k: int) -> str:
        return "".join((" " * (lane - 2) + "| ") for _ in range(k))

    header = " " * MARGIN + "".join(
        ("| " if k else "") + (names.get(t, f"T{t}")[: lane - 3] if k < len(tids) - 1
                               else names.get(t, f"T{t}")).ljust(lane - 2)
        for k, t in enumerate(tids))
    rule = list("-" * (max(len(header), width) - MARGIN))
    for k in range(1, len(tids)):
        rule[k * lane - 2] = "+"
    lines = [header.rstrip(), (" " * MARGIN + "".join(rule))[: max(len(header.rstrip()), MARGIN + len(tids) * lane)]]
    locks = lock_names(events)
    # One lock needs no name; several do, to tell which one each acquire takes.
    for tid, text, preempted in _row_texts(rows, pinned, locks if len(set(locks.values())) > 1 else None):
        if tid is None:
            lines.append("   " + text)
            continue
        k = lane_of[tid]
        lead = prefix(k)
        room = width - MARGIN - len(lead)
        indent = "    " if not text.startswith(("* ", "  ")) else "      "  # under the text it continues
        parts = _wrap(text, room, room - len(indent))
        for j, part in enumerate(parts):
            mark = "  >>  " if preempted and j == 0 else " " * MARGIN
            line = (mark + lead + (indent if j else "") + part).rstrip()
            if len(line) > width and j:
                # A whole value wider than a right-hand lane: it moves left, it is never cut.
                line = " " * max(MARGIN, width - len(part)) + part
            lines.append(line)
    lines.append("")
    lines.append(f"  (>> = the thread before was preempted; * = a step of the diagnosed {diagnosed})"
                 if pinned else "  (>> = the thread before was preempted)")
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


def failure_header(what: str, *, strategy: str, model: str, executions: int, elapsed: float,
                   schedule: str = "", timeouts: str = "anytime") -> str:
    """The first lines of every failure report: what was found, by whom, after how much search."""
    plural = "s" if executions != 1 else ""
    lines = [f"interleave: {what}",
             f"  found by {strategy} ({semantics(model, timeouts)}) after {executions} execution{plural} in "
             f"{elapsed:.2f} s"]
    lines.append(f"  {schedule}; Python {python()}" if schedule else f"  Python {python()}")
    return "\n".join(lines)


def replay_lines(token: str, reproduce: str) -> List[str]:
    """The last lines of every failure report: the token and how to reproduce it."""
    return ["", f"Replay token: {token}", f"Reproduce:    {reproduce}"]


def describe_failure(outcome: Outcome, instrumented: AbstractSet[str] = frozenset(),
                     named: Optional[Dict[int, str]] = None) -> str:
    """One paragraph: the exception, the deadlock cycle, the step limit or the divergence.

    ``named``: for a thread (by tid) blocked on a lock, the lock as the code names it (the trace's
    ``Account.lock #2``), shown instead of its address.
    """
    if outcome.kind == "exception" and outcome.exception is not None:
        where = "the test body" if outcome.tid == 0 else f"thread {outcome.thread} (uncaught; fails the run)"
        return f"Exception in {where}:\n" + format_exception(outcome.exception, instrumented)
    if outcome.kind == "deadlock":
        lines = ["Deadlock: no thread can run and no timer is pending."]
        for b in outcome.blocked:
            # Where comes first, on the thread's own line: after "held by X" it read as X's place.
            where = f", at {site_text(b.where)}" if b.where else ""
            held = f", held by {b.holder}" if b.holder else ""
            waits = (named or {}).get(b.tid) or b.waits_for
            lines.append(f"  {b.thread}{where}\n    waits for {waits}{held}")
        cycle = wait_for_cycle(outcome.blocked)
        if cycle:
            lines.append("  Wait-for cycle: " + " -> ".join(cycle))
        return "\n".join(lines)
    if outcome.kind == "step-limit":
        site = outcome.loop_site
        if site is not None:
            text = (f"Step limit: the threads ran {outcome.detail.split(';')[0]} without the execution "
                    f"ending (an endless loop or a livelock); {outcome.thread} was looping at "
                    f"{short_path(site[0])}:{site[1]} in {site[2]}  `{source_line(site[0], site[1])}`.")
        else:
            text = (f"Step limit: the execution took {outcome.steps} steps without finishing (a livelock or "
                    f"an endless loop; {outcome.thread} was running). Steps are switch points, and loop "
                    "iterations of a thread that runs alone.")
        if outcome.polling:
            text += (f"\n{outcome.thread} was reading the clock in its loop: waiting for a time by polling.\n"
                     "In virtual time such a loop moves the clock about a microsecond per read (a million\n"
                     "iterations per second waited): wait with time.sleep() or a timed wait instead.")
        if not outcome.polling:
            text += ("\nIf the loop does end, only later (a long computation, a slow poll), raise the limit: "
                     "max_steps= (an option of explore and of the marker).")
        if outcome.waiting:
            text += "\nWaiting when the limit was reached:"
            for b, deadline in outcome.waiting:
                until = f", due at {deadline:g} s (virtual time)" if deadline is not None else ""
                text += f"\n  {b.thread} waits for {b.waits_for}{until}"
                if b.where:
                    text += f" at {site_text(b.where)}"
        return _fill(text)
    if outcome.kind == "divergence":
        return _fill("Divergence: the program did not follow the recorded schedule: " + outcome.detail)
    return outcome.kind


def _fill(text: str, width: int = WIDTH) -> str:
    """Long lines wrapped to ``width``, continuations indented under their line's text."""
    out: List[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent + ("    " if indent else ""),
                                 break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def diagnose(outcome: Outcome, events: Sequence[Event], names: Dict[int, str]) -> Optional[Diagnosis]:
    """The recognised pattern behind the failure, or None (never a guess)."""
    events = [e for e in events if not foreign(e.filename)]
    if outcome.kind == "exception":
        return diagnose_exception(events, names, outcome.tid)
    if outcome.kind == "deadlock":
        cycle = wait_for_cycle(outcome.blocked)
        return diagnose_deadlock(events, names, cycle) if cycle else None
    return None


def _named_waits(outcome: Outcome, events: Sequence[Event]) -> Dict[int, str]:
    """Blocked thread -> the lock it waits for, named as the code names it (its last step is that acquire)."""
    if not outcome.blocked:
        return {}
    named = lock_names(events)
    last: Dict[int, Event] = {}
    for step in events:
        last[step.tid] = step
    out: Dict[int, str] = {}
    for b in outcome.blocked:
        e = last.get(b.tid)
        # Only a plain "Lock at 0x..." wait: a Condition's or a queue's has its own words.
        if (e is not None and e.kind == "acquire" and e.target in named
                and b.waits_for.startswith(f"{e.label} at 0x")):
            out[b.tid] = f"{e.label} {named[e.target]}"
    return out


def render_report(*, outcome: Outcome, events: Sequence[Event], names: Dict[int, str],
                  header: str, token: str, replay_hint: str, notes: Sequence[str] = (),
                  width: Optional[int] = None) -> str:
    """The whole report, no colours: as wide as the terminal, readable at 100 columns."""
    width = report_width(width)
    names = readable_names(names)
    shown = [e for e in events if not foreign(e.filename)]
    found = diagnose(outcome, shown, names)
    parts = [header, ""]
    racing: Optional[Set[int]] = None
    pinned: Set[int] = set()
    if found is not None:
        said = _wrap("Diagnosis: " + found.text, width, width - 4)
        parts += [said[0]] + ["    " + p for p in said[1:]] + [""]
        pinned = found.rows
        racing = found.targets if found.kind != "deadlock" else None
    # The files the run took switch points in: their frames are instrumented code.
    traced = {e.filename for e in events}
    parts += [describe_failure(outcome, traced, _named_waits(outcome, shown)), ""]
    if outcome.expired:
        parts += expired_lines(outcome.expired) + [""]
    parts += ["Interleaving (one column per thread):",
              render_table(shown, names, width, racing=racing, pinned=pinned,
                           diagnosed=found.kind if found is not None and found.kind == "deadlock" else "race",
                           failing=outcome.tid if outcome.kind == "exception" and found is None else None)]
    if outcome.kind == "step-limit" and events and outcome.loop_site is None:
        tail = events[-200:]
        hot: Dict[Tuple[str, int], int] = {}
        for e in tail:
            hot[(e.filename, e.lineno)] = hot.get((e.filename, e.lineno), 0) + 1
        top = sorted(hot.items(), key=lambda kv: -kv[1])[:4]
        parts += ["", "Lines repeating at the end (the loop):"]
        parts += [f"  {short_path(f)}:{ln}  `{source_line(f, ln)}`  x{n}" for (f, ln), n in top]
    parts += replay_lines(token, replay_hint)
    parts += list(notes)
    return "\n".join(parts)
