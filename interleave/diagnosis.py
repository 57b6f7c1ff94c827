"""One-line diagnoses of a failing trace: lost update, check-then-act, atomicity violation,
order violation and deadlock.

Each detector is a precise pattern over the recorded events (reads and writes of numbered
locations, lock acquisitions, thread starts and joins) and must also be tied to the failure:
the failing thread took part in the pattern, or read the location after it. When no pattern
matches, or two unrelated ones do, there is no diagnosis: none is better than a wrong one.
"""

from __future__ import annotations

import linecache
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .runtime.recorder import Event


@dataclass
class Diagnosis:
    """What went wrong, in one sentence, and the events that show it."""

    kind: str  # lost update | check-then-act | atomicity violation | order violation | deadlock
    text: str
    targets: Set[int] = field(default_factory=set)  # the racing locations or the locks of the cycle
    rows: Set[int] = field(default_factory=set)  # indices of the events that make up the pattern


_CONDITIONS = ("if ", "elif ", "while ", "assert ", "if(", "while(")


def _source(e: Event) -> str:
    return linecache.getline(e.filename, e.lineno).strip()


def is_check(e: Event) -> bool:
    """Whether the event's line is a test whose outcome decides what the thread does next."""
    return _source(e).startswith(_CONDITIONS)


def _where(e: Event) -> str:
    return f"{os.path.basename(e.filename)}:{e.lineno}"


def _val(e: Event) -> str:
    return f" ({e.value})" if e.value is not None else ""


def _vals(a: Event, b: Event) -> str:
    """`` (x, then y)``: the values of two accesses, as far as they were recorded."""
    if a.value is not None and b.value is not None:
        return f" ({a.value}, then {b.value})"
    return _val(a) or _val(b)


def _accesses(events: Sequence[Event]) -> Dict[int, List[int]]:
    """Location number -> indices of the reads and writes of it, in order."""
    by: Dict[int, List[int]] = {}
    for i, e in enumerate(events):
        if e.kind in ("read", "write") and e.target is not None:
            by.setdefault(e.target, []).append(i)
    return by


def _neighbours(events: Sequence[Event], idx: List[int]) -> Tuple[List[Optional[int]], List[Optional[int]]]:
    """For each access in ``idx``: the position in ``idx`` of its thread's previous and next access.

    Found in two passes: searching from every access went quadratic (10 s to report a loop that
    read one field 1,500 times).
    """
    before: List[Optional[int]] = [None] * len(idx)
    after: List[Optional[int]] = [None] * len(idx)
    last: Dict[int, int] = {}
    for k, i in enumerate(idx):
        tid = events[i].tid
        before[k] = last.get(tid)
        last[tid] = k
    last.clear()
    for k in range(len(idx) - 1, -1, -1):
        tid = events[idx[k]].tid
        after[k] = last.get(tid)
        last[tid] = k
    return before, after


def _must_clocks(events: Sequence[Event]) -> List[Dict[int, int]]:
    """Per event, a vector clock of the orders every schedule keeps: program order, start, join.

    A lock, an Event or a queue orders two threads only in the schedule at hand (another one may
    take them the other way round); a thread's start comes before its first step and a finished
    join after its last, in every schedule. A join that returned before the thread ended (it
    timed out) orders nothing.
    """
    last = {e.tid: i for i, e in enumerate(events)}
    clocks: Dict[int, Dict[int, int]] = {}
    started: Dict[int, Dict[int, int]] = {}
    joining: Dict[int, int] = {}  # joiner -> joined thread, applied at the joiner's next event
    out: List[Dict[int, int]] = []
    for i, e in enumerate(events):
        c = dict(clocks.get(e.tid) or started.get(e.tid) or {})
        t = joining.pop(e.tid, None)
        if t is not None and last.get(t, i) < i:
            for k, v in clocks.get(t, {}).items():
                if v > c.get(k, 0):
                    c[k] = v
        c[e.tid] = c.get(e.tid, 0) + 1
        clocks[e.tid] = c
        out.append(c)
        if e.kind == "start" and e.target is not None:
            started[e.target] = c
        elif e.kind == "join" and e.target is not None:
            joining[e.tid] = e.target
    return out


class _Finder:
    def __init__(self, events: Sequence[Event], names: Dict[int, str]) -> None:
        self.ev = events
        self.names = names
        self.by = _accesses(events)
        self._near: Dict[int, Tuple[List[Optional[int]], List[Optional[int]]]] = {}
        self._clocks: Optional[List[Dict[int, int]]] = None

    def fixed(self, *rows: int) -> bool:
        """Whether every schedule orders these events this way (start and join do): then the
        pattern is the program's own sequence, no race, and no diagnosis."""
        if self._clocks is None:
            self._clocks = _must_clocks(self.ev)
        clocks, ev = self._clocks, self.ev
        return all(clocks[a][ev[a].tid] <= clocks[b].get(ev[a].tid, 0) for a, b in zip(rows, rows[1:]))

    def near(self, x: int) -> Tuple[List[Optional[int]], List[Optional[int]]]:
        """``_neighbours`` of location x's accesses, computed once."""
        found = self._near.get(x)
        if found is None:
            found = self._near[x] = _neighbours(self.ev, self.by[x])
        return found

    def name(self, tid: int) -> str:
        return self.names.get(tid, f"T{tid}")

    # ------------------------------------------------------------------ lost update
    def lost_update(self, x: int) -> Optional[Diagnosis]:
        """Two threads read x, then both write it back: the later write is based on a stale read."""
        ev, idx = self.ev, self.by[x]
        before = self.near(x)[0]  # positions in idx, which is in order
        for k, wq in enumerate(idx):
            q = ev[wq]
            if q.kind != "write":
                continue
            pk = before[k]
            if pk is None or ev[idx[pk]].kind != "read":
                continue
            rq = idx[pk]
            if is_check(ev[rq]):
                continue  # a test, then an assignment: check-then-act, not a read-modify-write
            # A write by another thread between q's read and q's write, itself after that
            # thread's own read, with no write between the two reads: both read the same value.
            for m in range(pk + 1, k):
                wp = idx[m]
                p = ev[wp]
                if p.kind != "write" or p.tid == q.tid:
                    continue
                pm = before[m]
                if pm is None or ev[idx[pm]].kind != "read":
                    continue
                rp = idx[pm]
                if any(ev[idx[i]].kind == "write" for i in range(min(pm, pk) + 1, m) if i not in (pm, pk)):
                    continue
                if self.fixed(rq, wp, wq):
                    continue
                first, second = (rp, rq) if rp < rq else (rq, rp)
                a, b = ev[first], ev[second]
                at = _where(a) if _where(a) == _where(b) else f"{_where(a)} and {_where(b)}"
                text = (f"lost update of {q.label}: {self.name(a.tid)} and {self.name(b.tid)} both read "
                        f"it{_val(a)} at {at} before either wrote it back; {self.name(q.tid)}'s "
                        f"write{_val(q)} at {_where(q)} overwrote {self.name(p.tid)}'s{_val(p)}")
                return Diagnosis("lost update", text, {x}, {rp, rq, wp, wq})
        return None

    # ------------------------------------------------------------------ check-then-act
    def check_then_act(self, x: int) -> Optional[Diagnosis]:
        """A thread tests x, another thread changes x, then the first acts on x as if it had not."""
        ev, idx = self.ev, self.by[x]
        after = self.near(x)[1]
        for k, c in enumerate(idx):
            ce = ev[c]
            if ce.kind != "read" or not is_check(ce):
                continue
            j = after[k]  # the checker's next access to x: its act, if another thread wrote first
            for m in range(k + 1, len(idx) if j is None else j):
                w = idx[m]
                we = ev[w]
                if we.kind != "write":
                    continue
                if ce.value is not None and we.value is not None and ce.value == we.value:
                    continue  # the same value written: the check still holds
                if j is None:
                    break
                act = idx[j]
                ae = ev[act]
                if (ae.filename, ae.lineno) == (ce.filename, ce.lineno) or (ae.kind == "read" and is_check(ae)):
                    break  # it checked again (the same test, or another): it acts on what it reads now
                if self.fixed(c, w, act):
                    continue
                # Its own accesses between check and act do not count: only the act after the write.
                text = (f"check-then-act on {ce.label}: {self.name(ce.tid)} checked it{_val(ce)} at "
                        f"{_where(ce)}, then {self.name(we.tid)} changed it{_val(we)} at {_where(we)} "
                        f"before {self.name(ce.tid)} acted on the check at {_where(ae)}")
                return Diagnosis("check-then-act", text, {x}, {c, w, act})
        return None

    # ------------------------------------------------------------------ atomicity violation
    def atomicity(self, x: int) -> Optional[Diagnosis]:
        """Two accesses of one thread to x, in one function, with a conflicting one of another
        thread in between (read-write-read, write-write-read or write-read-write)."""
        ev, idx = self.ev, self.by[x]
        after = self.near(x)[1]
        for k, a1 in enumerate(idx):
            j = after[k]
            if j is None:
                continue
            e1, a2 = ev[a1], idx[j]
            e2 = ev[a2]
            if e2.function != e1.function or e2.filename != e1.filename:
                continue
            for b in idx[k + 1:j]:  # the other threads' accesses in between (idx is in order)
                eb = ev[b]
                pattern = (e1.kind, eb.kind, e2.kind)
                if self.fixed(a1, b, a2):
                    continue
                if pattern == ("read", "write", "read"):
                    if e1.value is not None and e1.value == e2.value:
                        continue  # it read the same value twice: nothing it could notice
                    what = (f"{self.name(eb.tid)} wrote {e1.label}{_val(eb)} at {_where(eb)} between "
                            f"{self.name(e1.tid)}'s two reads of it{_vals(e1, e2)} at "
                            f"{_where(e1)} and {_where(e2)}")
                elif pattern == ("write", "write", "read"):
                    what = (f"{self.name(eb.tid)} wrote {e1.label}{_val(eb)} at {_where(eb)} between "
                            f"{self.name(e1.tid)}'s write{_val(e1)} at {_where(e1)} and its read "
                            f"back{_val(e2)} at {_where(e2)}")
                elif pattern == ("write", "read", "write"):
                    what = (f"{self.name(eb.tid)} read {e1.label}{_val(eb)} at {_where(eb)} between "
                            f"{self.name(e1.tid)}'s writes{_vals(e1, e2)} at {_where(e1)} and "
                            f"{_where(e2)}: a state that was never meant to be seen")
                else:
                    continue
                return Diagnosis("atomicity violation", "atomicity violation: " + what, {x}, {a1, b, a2})
        return None

    # ------------------------------------------------------------------ order violation
    def order_violation(self, x: int, failing: Optional[int]) -> Optional[Diagnosis]:
        """The failing thread used x while it was still None; another thread set it afterwards."""
        ev, idx = self.ev, self.by[x]
        if failing is None:
            return None
        mine = [i for i in idx if ev[i].tid == failing]
        if not mine:
            return None
        r = mine[-1]
        re_ = ev[r]
        if re_.kind != "read" or re_.value != "None":
            return None
        w = next((i for i in idx if i > r and ev[i].kind == "write" and ev[i].tid != failing
                  and ev[i].value not in (None, "None")), None)
        if w is None or self.fixed(r, w):
            return None
        we = ev[w]
        text = (f"order violation: {self.name(failing)} used {re_.label} at {_where(re_)} while it was "
                f"still None, before {self.name(we.tid)} initialised it{_val(we)} at {_where(we)}")
        return Diagnosis("order violation", text, {x}, {r, w})


def _related(events: Sequence[Event], d: Diagnosis, failing: Optional[int], end: int) -> bool:
    """The failure involves the pattern: the failing thread is in it, or reads its location after."""
    if failing is None:
        return False
    if any(events[i].tid == failing for i in d.rows):
        return True
    last = max(d.rows)
    return any(e.tid == failing and e.kind == "read" and e.target in d.targets
               for e in events[last + 1:end])


def diagnose_exception(events: Sequence[Event], names: Dict[int, str],
                       failing: Optional[int]) -> Optional[Diagnosis]:
    """The pattern behind an exception in thread ``failing``, or None."""
    f = _Finder(events, names)
    found: List[Diagnosis] = []
    for x, idx in f.by.items():
        if len({events[i].tid for i in idx}) < 2 or not any(events[i].kind == "write" for i in idx):
            continue
        for detect in (f.lost_update, f.check_then_act, f.atomicity):
            d = detect(x)
            if d is not None and _related(events, d, failing, len(events)):
                found.append(d)
                break
        else:
            d = f.order_violation(x, failing)
            if d is not None:
                found.append(d)
    if not found:
        return None
    if len(found) > 1:
        # Several locations show a pattern: the one the failing thread touched last explains
        # the failure; if that is not decisive, say nothing.
        def last_touch(d: Diagnosis) -> int:
            return max((i for i, e in enumerate(events) if e.tid == failing and e.target in d.targets
                        and e.kind in ("read", "write")), default=-1)
        found.sort(key=last_touch, reverse=True)
        if last_touch(found[0]) == last_touch(found[1]):
            return None
    return found[0]


def lock_names(events: Sequence[Event]) -> Dict[int, str]:
    """Lock number -> how the code names it: what the thread read just before acquiring it."""
    names: Dict[int, str] = {}
    for i, e in enumerate(events):
        if e.kind == "acquire" and e.target is not None and e.target not in names:
            prev = None
            for j in range(i - 1, -1, -1):  # the thread's latest read on this line names the lock
                p = events[j]
                if p.tid != e.tid:
                    continue
                if p.kind in ("acquire", "release") or (p.filename, p.lineno) != (e.filename, e.lineno):
                    break
                if p.kind == "read":
                    prev = p
                    break
            if prev is not None and prev.label:
                label = prev.label
                names[e.target] = label[5:] if label.startswith("cell ") else label
            else:
                names[e.target] = e.label or "a lock"
    counts: Dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    seen: Dict[str, int] = {}
    for t in sorted(names):
        n = names[t]
        if counts[n] > 1:  # the same name for different locks: number them
            seen[n] = seen.get(n, 0) + 1
            names[t] = f"{n} #{seen[n]}"
    return names


def diagnose_deadlock(events: Sequence[Event], names: Dict[int, str], cycle: Sequence[str]) -> Optional[Diagnosis]:
    """Each thread of a wait-for cycle holds the lock the previous one waits for."""
    if len(cycle) < 3:
        return None
    tid_of = {n: t for t, n in names.items()}
    if len(tid_of) != len(names):
        return None  # two threads with one name: the cycle cannot be mapped back
    threads = list(cycle[:-1])
    if any(t not in tid_of for t in threads):
        return None
    waits: Dict[str, Tuple[int, int]] = {}  # name -> (lock, event index of the blocked acquire)
    for n in threads:
        tid = tid_of[n]
        last = next((i for i in range(len(events) - 1, -1, -1) if events[i].tid == tid), None)
        target = events[last].target if last is not None else None
        if last is None or events[last].kind != "acquire" or target is None:
            return None
        waits[n] = (target, last)
    lock_name = lock_names(events)
    parts = []
    rows: Set[int] = set()
    for k, n in enumerate(threads):
        nxt = threads[(k + 1) % len(threads)]
        wanted, at = waits[n]
        # ``nxt`` holds what ``n`` waits for: its latest acquire of that lock, not released since.
        tid = tid_of[nxt]
        held = [i for i, e in enumerate(events) if e.tid == tid and e.target == wanted
                and e.kind in ("acquire", "release")]
        if not held or events[held[-1]].kind != "acquire" or held[-1] == waits[nxt][1]:
            return None
        rows.update((at, held[-1]))
        parts.append(f"{n} waits at {_where(events[at])} for {lock_name.get(wanted, 'a lock')}, "
                     f"which {nxt} took at {_where(events[held[-1]])}")
    text = "deadlock (lock-order cycle): " + "; ".join(parts)
    return Diagnosis("deadlock", text, {waits[n][0] for n in threads}, rows)


def readable_names(names: Dict[int, str], longest: int = 40) -> Dict[int, str]:
    """Thread names as the report shows them: one line, no column bar, not too long, distinct.

    A program may name threads anything: a newline broke the table's header, a ``|`` its
    columns, and two threads named alike could not be told apart in the diagnosis.
    """
    out: Dict[int, str] = {}
    for tid, name in names.items():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name)).replace("|", "/")
        out[tid] = text if len(text) <= longest else text[:longest - 1] + "…"
    seen: Dict[str, int] = {}
    for text in out.values():
        seen[text] = seen.get(text, 0) + 1
    return {tid: f"{text} #{tid}" if seen[text] > 1 else text for tid, text in out.items()}
