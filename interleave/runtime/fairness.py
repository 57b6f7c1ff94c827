"""The fairness bound: when a thread that keeps the processor while others could run must yield.

Without a bound, a strategy that favours a spinning thread (PCT's highest priority, a systematic
search's "go on") would spin it until the step limit, and a correct spin-wait would be reported as
a livelock. But a real scheduler lets a thread run for thousands of instructions (the GIL's
switch interval is 5 ms), so a bug that needs one thread to run a long loop to its end before
another thread's next step is a real bug, and a bound that always cuts long runs hides it.

The same holds for time: a timeout may run out early, while another thread could run, since any
thread may be slow, but no real scheduler leaves a runnable thread waiting while threads that poll
with a timeout wake and sleep again a hundred times (two pollers taking turns never make a streak
of their own). After ``EARLY_TIMEOUTS`` early timeouts in a row passed a ready thread over, no
timeout runs out early until it has run (a schedule closed: ``fair_yields`` again).

So the bound asks whether the thread is spinning: at ``FAIRNESS_STREAK`` picks in a row it takes
the thread's frame and locals, then follows it point by point until it stands at the same
instruction of the same frame again. If nothing in its locals changed, the iteration left it as it
found it: it spins and yields now. If something changed, it makes progress and may go on for
another ``FAIRNESS_STREAK`` picks, up to ``cap`` picks in a row. Either way a yield closes some
schedules, and the exploration says so (``Outcome.fair_yields``: no proof).
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any, Dict

from .vthread import READY
from .where import frame_running

# Picks a thread may take in a row while others could run before it is asked whether it spins.
FAIRNESS_STREAK = 1000
# Timeouts that may run out early (moving virtual time) while a thread is ready and not run.
EARLY_TIMEOUTS = 100
# Picks followed one by one, at most, to see a thread stand at the same instruction again: a
# longer loop body counts as progress (a spin-wait's loop is a few instructions).
PROBE_PICKS = 64
# Longest run in a row a thread that makes progress may take (the step limit may lower it).
FAIRNESS_CAP = 10 * FAIRNESS_STREAK
# Recursion room a thread needs for a probe: each followed pick is a decision, a dozen frames on
# top of the thread's own, and the thread may call PROBE_PICKS frames deeper meanwhile. With less
# (or its depth unknown) it yields as a spinner would: under sys.settrace, a decision that hits
# the recursion limit loses the trace function (3.10, 3.11). For the same reason a thread that
# is deeper at the probe's end than at its start, without having come back, yields too.
PROBE_ROOM = 4 * PROBE_PICKS

_MISSING = object()


def fairness_cap(max_steps: int) -> int:
    """The longest run in a row for an execution of at most ``max_steps`` steps.

    A tenth of the step limit at most: a thread that waits by counting (``for _ in range(n): if
    flag: break``) looks like progress and runs to the cap at each hand-over, and with the cap much
    closer to the step limit a correct program of that kind would reach it (a false livelock).
    """
    return max(FAIRNESS_STREAK, min(FAIRNESS_CAP, max_steps // 10))


class Probe:
    """A thread followed since its streak reached the bound: where it stood, and its locals."""

    __slots__ = ("frame", "offset", "values", "since", "room")

    def __init__(self, frame: FrameType, offset: int, values: Dict[str, Any], since: int, room: int) -> None:
        self.frame = frame
        self.offset = offset
        self.values = values  # holds the values: none can be freed and its address reused meanwhile
        self.since = since
        self.room = room  # its recursion room then


def locals_of(frame: FrameType) -> Dict[str, Any]:
    """A copy of a frame's local variables (cells and free variables included)."""
    return dict(frame.f_locals)


def same_values(before: Dict[str, Any], now: Dict[str, Any]) -> bool:
    """Whether every local is bound to the very object it was bound to before."""
    if len(before) != len(now):
        return False
    for name, value in before.items():
        if now.get(name, _MISSING) is not value:
            return False
    return True


def must_yield(ex: Any, cur: Any) -> bool:
    """Whether ``cur``, ``ex.streak`` picks in a row while others could run, must yield now.

    False while it is followed (``ex.probe`` set: it runs on one pick at a time) and when it made
    progress (``ex.fair_limit`` moved on).
    """
    streak = ex.streak
    cap = fairness_cap(ex.max_steps)
    probe = ex.probe
    here = cur.pending
    frame = None if here is None else here.frame
    if here is not None and here.resumes:
        # Parked in a timed wait: where it stands is not known alike whether the run records
        # (every point updates it) or not (points taken on a grant leave the last decision's),
        # and a replay must decide as the search did. A wait is no place to follow from.
        frame = None
    elif frame is None and here is not None and here.code is not None:
        frame = frame_running(here.code, sys._getframe())  # an instruction's point: the frame running it
    if probe is None:
        room = _room(ex)
        if frame is None or streak >= cap or room < PROBE_ROOM:
            return True
        ex.probe = Probe(frame, here.offset, locals_of(frame), streak, room)
        return False
    if frame is probe.frame and here.offset == probe.offset:
        ex.probe = None
        # Unchanged, the iteration left it as it found it: it spins.
        return same_values(probe.values, locals_of(frame)) or _no_progress_left(ex, streak, cap)
    if streak - probe.since >= PROBE_PICKS:
        ex.probe = None
        # Deeper than it was, never back where it stood: a recursion, which would reach the
        # recursion limit traced (sys.settrace drops its trace function there on 3.10, 3.11).
        return _room(ex) < probe.room or _no_progress_left(ex, streak, cap)
    return False


def _room(ex: Any) -> int:
    """The running thread's recursion room (0 where the thread state's layout is unknown)."""
    remaining = ex.remaining  # ``headroom.remaining_depth()``
    return 0 if remaining is None else int(remaining.value)


def _no_progress_left(ex: Any, streak: int, cap: int) -> bool:
    """It made progress: True if it has run to the cap, else it may go on to the next bound."""
    if streak >= cap:
        return True
    ex.fair_limit = min(streak + FAIRNESS_STREAK, cap)
    return False


def timeout_passed_over(ex: Any, woken: Any) -> None:
    """A timeout ran out early, moving virtual time, for ``woken`` while other threads were ready.

    Each ready thread has been passed over once more; at ``EARLY_TIMEOUTS`` no timeout runs out
    early until it has run (``ran_at_last``), and the exploration is no proof.
    """
    for t in ex.alive:
        if t.state == READY and t is not woken:
            t.passed_over += 1
            if t.passed_over >= EARLY_TIMEOUTS and not ex.timers_held:
                ex.timers_held = True
                ex.fair_yields += 1


def ran_at_last(ex: Any, t: Any) -> None:
    """``t``, passed over by early timeouts, runs: timeouts may run out early again unless another waits."""
    t.passed_over = 0
    if ex.timers_held:
        ex.timers_held = any(o.passed_over >= EARLY_TIMEOUTS for o in ex.alive if o.state == READY)
