"""``strategy="hypothesis"``: Hypothesis's engine generates every execution's choices.

Each execution is one Hypothesis example: the same draws as :func:`interleave.hypothesis.schedules`
(0 = no preemption, lowest thread first), made by Hypothesis's generator, which favours simple
and boundary choices and mutates earlier examples. A failing execution is kept in Hypothesis's
example database twice: as Hypothesis's own example (when it could express it: early examples
are kept small and may run out of room) and as the schedule itself, under a key derived from
the explored function; the next ``explore`` of that function replays the stored schedule as its
first execution (and forgets it if it no longer fails). Shrinking is interleave's (fewest
preemptions first, then fewest steps), because ``explore`` stops at the first failure.

Hypothesis's engine wants to call a test function; ``explore`` wants to call the strategy. The
engine therefore runs in a helper thread that never runs code under test: a raw OS thread that
``threading.enumerate()`` does not list, kept between explorations and ending a second after the
last (:mod:`interleave.runtime.lingering_thread`). Each decision is a hand-off between the two
threads on raw locks, and explore's side never waits for an answer longer than
``ENGINE_PATIENCE``. Hypothesis's run for an exploration ends when ``explore`` closes the
strategy, or, for a strategy dropped without closing, when the next one starts.
"""

from __future__ import annotations

import json
import random
import weakref
from typing import Any, Dict, List, Optional, Tuple

from ..errors import OptionError
from ..runtime import context
from ..runtime.lingering_thread import LingeringThread
from ..sync.lock import _real_lock
from ..versions import PY
from .base import Strategy
from .schedule_draws import ScheduleDraws

_DONE = object()
#: Seconds explore's thread waits for one answer of the engine (or for its run to end) before it
#: carries on without it: seeded draws instead of a hang if Hypothesis ever stops answering.
ENGINE_PATIENCE = 60.0


class _Stop(BaseException):
    """Thrown into the engine's test function to end Hypothesis's run."""


class _ExecutionFailed(Exception):
    """What the engine's test function raises for a failing execution (one origin: one bug)."""


class _Channel:
    """Strictly alternating hand-off between ``explore``'s thread and the engine thread, on raw locks.

    The engine runs only while explore's thread waits for an answer: Hypothesis's work between
    examples (it seeds and restores the global ``random`` around each one) happens before the
    answer to ``end`` (deferred to the start of the next example), and the caller saves and
    restores ``random``'s state around every call, so the two threads never share it.
    """

    def __init__(self) -> None:
        self.mutex = _real_lock()
        self.posted = _real_lock()
        self.answered = _real_lock()
        self.finished = _real_lock()
        self.posted.acquire()
        self.answered.acquire()
        self.finished.acquire()
        self.request: Any = None
        self.reply: Any = None
        self.deferred = False  # an answer owed once Hypothesis reaches the next example (or ends)
        self.done = False
        self.shut = False
        self.ended = True  # False once the engine has been waited for in vain
        self.database: Any = None

    def call(self, msg: Any) -> Any:
        """explore's side: post ``msg`` and wait for the answer (``_DONE`` once the engine has ended)."""
        state = random.getstate()
        try:
            with self.mutex:
                if self.done:
                    return _DONE
                self.request = msg
                self.posted.release()
            if self.answered.acquire(True, ENGINE_PATIENCE):
                return self.reply
            with self.mutex:
                # The engine is stuck: seeded draws take over, never a hang, and the next
                # exploration gets a thread of its own (``_submit``).
                self.done = True
                self.ended = False
            return _DONE
        finally:
            random.setstate(state)

    def receive(self) -> Any:
        """Engine side: the next message."""
        self.posted.acquire()
        return self.request

    def answer(self, value: Any) -> None:
        """Engine side: answer the message received last."""
        self.reply = value
        self.answered.release()

    def settle(self) -> None:
        """Engine side, at the start of an example: pay the answer owed, if any."""
        if self.deferred:
            self.deferred = False
            self.answer(None)

    def close(self) -> None:
        """Engine side: no more answers; release a caller that is waiting."""
        with self.mutex:
            self.done = True
            if self.deferred:
                self.deferred = False
                self.answer(_DONE)
            elif self.posted.acquire(False) and self.request[0] != "stop":
                self.answer(_DONE)

    def shutdown(self) -> bool:
        """explore is over: end Hypothesis's run and wait until it has; False if it does not end."""
        # Read before the engine is let go: its example ends at once and restores the random state
        # it found there (the run's), which this thread would otherwise read and put back.
        state = random.getstate()
        with self.mutex:
            if self.shut:
                return self.ended
            self.shut = True
            if self.done:
                return self.ended
            self.request = ("stop",)
            self.posted.release()
        try:
            self.ended = self.finished.acquire(True, ENGINE_PATIENCE)
        finally:
            random.setstate(state)
        return self.ended


# The engine thread (a raw thread, started on demand, ending when idle) and the channel it
# serves last; ``_submit`` replaces the thread if that channel's run never ends.
_engine_thread = LingeringThread()
_serving: Optional[_Channel] = None

_CHANNELS: Dict[int, _Channel] = {}


def _db_key(key: str) -> bytes:
    return b"interleave.explore(strategy='hypothesis'):" + key.encode("utf-8", "replace")


def _encode_runs(runs: Any, cap: Optional[int]) -> bytes:
    return json.dumps({"python": list(PY), "preemptions": cap,
                       "runs": [list(r) for r in runs]}).encode()


def _decode_runs(value: bytes, cap: Optional[int]) -> Optional[List[Tuple[int, int]]]:
    """The runs of a stored failure; None if unreadable, from another Python, or outside ``cap``."""
    try:
        data = json.loads(value.decode())
        if data.get("python") != list(PY):
            return None
        stored_cap = data.get("preemptions")
        if cap is not None and (stored_cap is None or stored_cap > cap):
            return None
        return [(int(t), int(n)) for t, n in data["runs"]]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _fetch(database: Any, key: str) -> List[bytes]:
    if database is None:
        return []
    active = context.active
    context.active = None  # file I/O in Hypothesis's code: not part of the execution
    try:
        return sorted(database.fetch(_db_key(key)))
    except Exception:  # noqa: BLE001 - an unreadable database is no reason to fail the exploration
        return []
    finally:
        context.active = active


def _save(database: Any, key: str, value: bytes) -> None:
    if database is not None:
        try:
            database.save(_db_key(key), value)
        except Exception:  # noqa: BLE001 - a read-only database: the token in the report still replays
            pass


def _delete(database: Any, key: Optional[str], value: bytes) -> None:
    if database is not None and key is not None:
        try:
            database.delete(_db_key(key), value)
        except Exception:  # noqa: BLE001
            pass


def _finish(channel_id: int) -> None:
    channel = _CHANNELS.pop(channel_id, None)
    if channel is not None:
        channel.shutdown()


def _submit(channel: _Channel, seed: int, max_preemptions: Optional[int], database: Any) -> None:
    """Hand an exploration's run to the engine thread, once the previous run has ended."""
    global _engine_thread, _serving
    previous, _serving = _serving, channel
    if previous is not None and not previous.shutdown():
        _engine_thread = LingeringThread()  # the old thread is stuck in Hypothesis: leave it
    _engine_thread.run(lambda: _engine(channel, seed, max_preemptions, database))


def _body_key(fn: Any) -> str:
    seen = 0
    while seen < 10:
        seen += 1
        inner = getattr(fn, "func", None) or getattr(fn, "__func__", None) or getattr(fn, "__wrapped__", None)
        if inner is None:
            break
        fn = inner
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}.{name}"


def _engine(channel: _Channel, seed: int, max_preemptions: Optional[int], database: Any) -> None:
    """One job: a Hypothesis test whose examples are one exploration's executions."""
    try:
        first = channel.receive()
        if first[0] != "start":
            return
        channel.deferred = True  # answered from inside the first example
        _run_hypothesis(channel, first[1], seed, max_preemptions, database)
    except BaseException:  # noqa: BLE001 - Hypothesis gave up (e.g. unsatisfiable): explore carries on
        pass
    finally:
        channel.close()
        channel.finished.release()


def _run_hypothesis(channel: _Channel, key: str, seed: int, max_preemptions: Optional[int], database: Any) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    failure: List[Any] = []

    def one_execution(source: Any) -> None:
        channel.settle()
        strat = ScheduleDraws(source.randint, max_preemptions, record=True, own_locals=False)
        while True:
            msg = channel.receive()
            kind = msg[0]
            if kind == "choose":
                channel.answer(strat.choose(*msg[1:]))
            elif kind == "end":
                channel.deferred = True  # answered when Hypothesis is at the next example, or done
                if strat.error is not None:
                    raise strat.error
                if msg[1] is not None:
                    failure[:] = [msg[1], list(strat.bounds)]
                    raise _ExecutionFailed(msg[1])
                return
            else:  # stop: explore is over
                if failure:
                    # Hypothesis runs the failing example once more to report it: make the same draws
                    # and fail the same way, so that it keeps the example in its database.
                    for lo, hi in failure[1]:
                        source.randint(lo, hi)
                    raise _ExecutionFailed(failure[0])
                raise _Stop()

    one_execution.__name__ = one_execution.__qualname__ = "interleave_explore"
    one_execution._hypothesis_internal_add_digest = key.encode()  # type: ignore[attr-defined]
    test = settings(
        database=database, max_examples=10**9, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False, verbosity=Verbosity.quiet,
        print_blob=False,
    )(hseed(seed)(given(st.randoms(note_method_calls=False, use_true_random=False))(one_execution)))
    try:
        test()
    except (_Stop, _ExecutionFailed):
        pass


class HypothesisStrategy(Strategy):
    """Hypothesis's engine chooses; seeded draws take over if it stops generating."""

    name = "hypothesis"

    @classmethod
    def from_options(cls, seed: int, preemptions: Optional[int] = None) -> HypothesisStrategy:  # type: ignore[override]
        """``strategy="hypothesis"``: see :func:`factory`."""
        return factory(seed, preemptions)

    def __init__(self, seed: int, max_preemptions: Optional[int] = None, database: Any = "default") -> None:
        self.seed = seed
        self.max_preemptions = max_preemptions
        # Once Hypothesis stops generating (it ran out of new choice sequences), the same draws
        # come from a seeded generator: same encoding, same preemption cap.
        self.fallback = ScheduleDraws(random.Random(seed).randint, max_preemptions, own_locals=False)
        if database == "default":
            from hypothesis import settings

            profile = settings.default
            assert profile is not None  # Hypothesis loads a default profile at import
            database = profile.database  # read here: the active profile may be per thread
        channel = _Channel()
        channel.database = database
        # Held by id: the exploration makes locks it can reach from the code under test (a
        # strategy kept in a global, say) cooperative, and these must stay raw.
        self._channel_id = id(channel)
        _CHANNELS[self._channel_id] = channel
        self.started = False
        self.in_execution = False
        self.key: Optional[str] = None
        self.stored: List[bytes] = []  # failing schedules saved by earlier explorations of this body
        self.replaying: Optional[Tuple[bytes, Strategy]] = None
        self.decided = False
        _submit(channel, seed, max_preemptions, database)
        # Never wait for the engine from a finalizer: the collector runs it at any allocation,
        # inside any C call, and the engine thread would then run Hypothesis's code alongside
        # (3.11's ast.parse is not thread-safe, for one). ``close`` ends the run at a known
        # point; a strategy dropped without it is ended by the next one's ``_submit``.
        weakref.finalize(self, _CHANNELS.pop, self._channel_id, None)

    @property
    def channel(self) -> _Channel:
        """The hand-off to this exploration's engine."""
        return _CHANNELS[self._channel_id]

    def new_execution(self) -> bool:
        """Hypothesis starts its next example when the first decision is asked for."""
        self.in_execution = False
        self.decided = False
        self.replaying = None
        self.fallback.new_execution()
        return True

    def _first_choice(self) -> None:
        """At an execution's first decision: learn the body, and replay a stored failure first."""
        self.decided = True
        if self.key is None:
            ex = context.active
            self.key = _body_key(getattr(ex, "fn", None)) if ex is not None else "unknown"
            self.stored = _fetch(self.channel.database, self.key)
        while self.stored:
            value = self.stored.pop(0)
            runs = _decode_runs(value, self.max_preemptions)
            if runs is None:
                continue
            from .guided import GuidedStrategy

            guide = GuidedStrategy(runs)
            guide.new_execution()
            self.replaying = (value, guide)
            return

    def _ask(self, msg: Tuple[Any, ...]) -> Any:
        if not self.started:
            self.started = True
            if self.channel.call(("start", self.key)) is _DONE:
                return _DONE
        self.in_execution = True
        return self.channel.call(msg)

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        """A stored failure's choices, then the engine's, then seeded ones once the engine has stopped."""
        if not self.decided:
            self._first_choice()
        if self.replaying is not None:
            return self.replaying[1].choose(runnable, current, used)
        answer = self._ask(("choose", runnable, current, used))
        if answer is _DONE:
            return self.fallback.choose(runnable, current, used)
        return answer

    def end_execution(self, outcome: Any) -> None:
        """Tell Hypothesis how the example went; keep a failing schedule, drop a stored one that passed."""
        failed = bool(getattr(outcome, "failed", False))
        database = self.channel.database
        if self.replaying is not None:
            value = self.replaying[0]
            self.replaying = None
            if not failed:
                _delete(database, self.key, value)  # fixed (or no longer reachable): forget it
            return
        if failed and self.key is not None:
            # Hypothesis stores the examples it can express; this also keeps the ones it cannot
            # (decisions made after it ran out of room for the example).
            _save(database, self.key, _encode_runs(outcome.runs, self.max_preemptions))
        if not self.in_execution:
            return
        self.in_execution = False
        self.channel.call(("end", repr(outcome.signature()) if failed else None))

    def close(self) -> None:
        """End Hypothesis's run for this exploration and wait until the engine is idle."""
        _finish(self._channel_id)

    def describe(self) -> str:
        """``hypothesis`` plus the preemption cap, if any."""
        return self.name if self.max_preemptions is None else f"{self.name}(preemptions<={self.max_preemptions})"


def factory(seed: int, preemptions: Optional[int] = None) -> HypothesisStrategy:
    """``strategy="hypothesis"``; ``preemptions=k`` caps the preemptions per execution."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        raise OptionError("strategy='hypothesis' needs the hypothesis package: pip install hypothesis") from None
    return HypothesisStrategy(seed, preemptions)


__all__ = ["HypothesisStrategy", "factory"]
