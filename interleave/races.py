"""Data races: conflicting accesses that no synchronisation orders, found with vector clocks.

``explore(..., races="report")`` runs a :class:`RaceChecker` as the recorder of every execution,
whatever the strategy. Each thread carries a vector clock that advances at each of its switch
points. Happens-before edges come from synchronisation:

* release -> acquire on the same lock (``Lock``, ``RLock``, a ``Condition``'s lock, also when the
  standard library takes it: ``with cond``, ``cond.wait`` releases and re-acquires);
* ``Thread.start`` -> the new thread's first step; a thread's end -> a ``join`` that returns;
* ``put`` -> ``get`` on a queue, ``Event.set`` -> ``wait``/``is_set``, ``Semaphore.release`` ->
  ``acquire``, arrival at a ``Barrier`` -> everyone leaving it;
* a thread that was blocked and is woken (notify -> wake, and any other unpark) happens after
  the step that woke it;
* the locks the standard library takes and gives back itself, where no switch point is (a
  Condition's ``wait`` and ``wait_for``, a Queue's mutex around its ``_put``/``_get`` hooks and
  ``empty``/``qsize``, a Future's condition): the execution tells the check of each one;
* ``is_alive()`` and ``threading.active_count()``/``enumerate()`` that see a thread gone, as
  ``join``; ``Lock.locked()`` that sees it free, as an acquire; ``Event.clear`` as ``set``;
* a call the harness cannot see into (a library function, ``concurrent.futures``) is treated as
  a full fence: it orders everything before it before everything after it. That can hide a
  race, never invent one. A thread that goes on in such code without a call from code under
  test (a pool worker back in the pool after a task, a library generator drawn by ``list``) is
  a fence there too.

Two accesses race when they touch the same attribute, dict key, container, global or closure
cell, at least one writes, they come from different threads, and neither happens before the
other. Calls on thread-safe containers (``list.append``) and synchronisation objects are not
data accesses. A race is reported with both accesses (thread, source line, object and attribute
or key) even when the execution passed. The check is per execution: a race is found in every
execution where the two accesses are unordered, which in practice is most of them.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .errors import OptionError
from .race_clocks import RaceDetector
from .runtime.recorder import Tee
from .strategies.base import Strategy
from .tracebacks import short_path

MODES = ("ignore", "report", "fail")
@dataclass(frozen=True)
class RaceAccess:
    """One side of a race: which thread did what to the location, where."""

    thread: str
    tid: int
    kind: str  # read | write
    filename: str
    lineno: int
    function: str
    text: str  # e.g. "write Counter.value"

    @property
    def source(self) -> str:
        """The source line of the access."""
        return linecache.getline(self.filename, self.lineno).strip()

    def describe(self) -> str:
        """``Thread-1 write Counter.value at counter.py:12 (self.value += 1)``."""
        src = self.source
        return (f"{self.thread} {self.text} at {_short(self.filename)}:{self.lineno}"
                + (f"  `{src}`" if src else ""))


@dataclass(frozen=True)
class Race:
    """Two conflicting accesses of different threads, not ordered by happens-before."""

    location: str  # "Counter.value", "dict['k']", "global total", "cell n"
    first: RaceAccess  # the earlier access in the execution where it was found
    second: RaceAccess

    def describe(self) -> str:
        """Both accesses, one per line."""
        return (f"data race on {self.location}:\n  {self.first.describe()}\n  {self.second.describe()}\n"
                "  (no lock, join, queue, event or other synchronisation orders them)")

    def __str__(self) -> str:
        return self.describe()


def check_mode(races: Any) -> str:
    """Validate the ``races=`` option."""
    if races not in MODES:
        raise OptionError(f"races must be one of {', '.join(repr(m) for m in MODES)}; got {races!r}")
    return races


def _short(path: str) -> str:
    return short_path(path)


class RaceChecker:
    """Collects the races of every execution of one exploration (``races="report"|"fail"``)."""

    def __init__(self, mode: str) -> None:
        self.mode = check_mode(mode)
        self.races: List[Race] = []
        self._seen: Dict[tuple, Race] = {}
        self.stop = False  # "fail" mode: an execution had a race
        self.schedule: Any = None
        self.outcome: Any = None
        self._current: Optional[RaceDetector] = None
        self._new = 0

    def recorder(self) -> RaceDetector:
        """A fresh recorder for the next execution."""
        self._current = RaceDetector(self)
        self._new = 0
        return self._current

    def found(self, location: str, first: Tuple[Any, ...], second: Tuple[Any, ...]) -> None:
        """The detector found a race: both sides as ``RaceAccess`` fields."""
        race = Race(location, RaceAccess(*first), RaceAccess(*second))
        a, b = race.first, race.second
        key = (race.location, *sorted([(a.filename, a.lineno, a.kind), (b.filename, b.lineno, b.kind)]))
        if key in self._seen:
            return
        self._seen[key] = race
        self.races.append(race)
        self._new += 1

    def end_execution(self, outcome: Any, schedule: Any = None) -> bool:
        """After an execution: True if it found a race and the mode is ``fail``."""
        det = self._current
        if det is not None:
            det.finish()
        self._current = None
        if self._new and self.mode == "fail" and not self.stop:
            self.stop = True
            self.schedule = schedule
            self.outcome = outcome
        return self.stop

    def failure(self, session: Any, fn: Any, *, strategy: str, executions: int, elapsed: float,
                hint: Optional[str] = None) -> Any:
        """The Failure for ``races="fail"``: the races, the interleaving, and the replay token."""
        from .report import failure_header, render_table, replay_lines
        from .result import Failure
        from .runtime.recorder import Recorder
        from .strategies.replay import ReplayStrategy
        from .token import encode

        schedule = self.schedule
        recorder = Recorder()
        session.run_once(ReplayStrategy(schedule.runs, schedule.lone_points), schedule.random_seed, recorder)
        finish = getattr(recorder, "finish", None)
        if finish is not None:
            finish()
        token = encode(schedule)
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "body")
        first = self.races[0]
        header = failure_header(f"data race on {first.location}", strategy=strategy, model=schedule.model,
                                executions=executions, elapsed=elapsed)
        parts = [header, ""] + [r.describe() for r in self.races] + [
            "", "Interleaving (one column per thread):", render_table(recorder.events, recorder.thread_names)]
        # replay() checks races only when asked: the library's line asks.
        call = f"interleave.replay({name}, {token!r}, races='fail'{session.replay_arguments()})"
        parts += replay_lines(token, hint or call)
        return Failure(kind="race", exception=None, token=token, report="\n".join(parts),
                       trace=recorder.events, detail=first.describe())


def recorder_for(strategy: Strategy, checker: Optional[RaceChecker]) -> Any:
    """The recorder of one execution: the race checker's, the strategy's own (DPOR), or both."""
    own = strategy if strategy.records else None
    rec = checker.recorder() if checker is not None else None
    if own is not None and rec is not None:
        return Tee(rec, own)
    return own if own is not None else rec
