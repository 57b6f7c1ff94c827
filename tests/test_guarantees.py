"""The guarantees, for every strategy and back-end: never hang, never a false verdict, nothing lost.

Each test runs over every registered strategy and every back-end this Python has, so that an
optimisation in one of them cannot quietly break a guarantee.
"""

from __future__ import annotations

import _thread
import gc
import inspect
import json
import os
import subprocess
import sys
import threading
import weakref
from typing import Any, Callable, Dict, List

import guarantee_programs
import pytest
from guarantee_programs import ENDLESS, LOOP_LINES, OUTCOMES, Box, lost_update
from test_restore import assert_same, snapshot

import interleave
from interleave.strategies import registry

STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])
HERE = os.path.dirname(os.path.abspath(__file__))
on_main_thread = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals (Ctrl-C) reach the main thread only")

_local = threading.local()


def _loop_lines(fn: Callable[..., Any]) -> List[int]:
    first = fn.__code__.co_firstlineno
    return [LOOP_LINES[fn], first + 1, first + 2, first + 3]


# ------------------------------------------------------------------ never hang
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("shape", list(ENDLESS))
def test_an_endless_loop_of_any_shape_ends_at_the_step_limit(shape: str, strategy: str, backend: str) -> None:
    r = interleave.explore(ENDLESS[shape], executions=3, seed=0, strategy=strategy, backend=backend,
                           max_steps=3_000)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    # The report names a line of the loop that never ended.
    looping = {fn: _loop_lines(fn) for fn in LOOP_LINES}
    named = [ln for lines in looping.values() for ln in lines
             if f"guarantee_programs.py:{ln}" in r.failure.report]
    assert named, r.failure.report


# The shapes with no switch point in the loop: they end only through the loop budget. (How long
# every shape takes with the default limit is measured in benchmarks/bench_endless.py.)
NO_SWITCH_POINT = ["alone", "in a thread", "two spinners", "peer waits"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", NO_SWITCH_POINT)
def test_an_endless_loop_ends_with_the_default_step_limit(shape: str, backend: str) -> None:
    r = interleave.explore(ENDLESS[shape], executions=1, seed=0, backend=backend)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    again = interleave.replay(ENDLESS[shape], r.failure.token, backend=backend)
    assert again.failure is not None and again.failure.kind == "step-limit"


# ------------------------------------------------------------------ nothing left behind
EXPECTED = {"pass": {None}, "exception": {None, "exception"}, "deadlock": {None, "deadlock"},
            "body raises": {"exception"}, "step-limit": {"step-limit"}}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_outcome_leaves_the_interpreter_and_thread_locals_as_they_were(
        outcome: str, strategy: str, backend: str) -> None:
    marker = object()
    _local.value = marker
    if strategy == "hypothesis":
        # strategy="hypothesis" runs Hypothesis's engine on one daemon thread that it starts once
        # per process, outside any run, and reuses (documented in hypothesis_driven._Worker).
        interleave.explore(OUTCOMES["pass"], executions=1, seed=0, strategy="hypothesis")
    before = snapshot()
    r = interleave.explore(OUTCOMES[outcome], executions=30, seed=2, strategy=strategy, backend=backend,
                           max_steps=2_000)
    after = snapshot()
    assert (r.failure.kind if r.failure else None) in EXPECTED[outcome], r.verdict
    assert_same(before, after)
    assert getattr(_local, "value", None) is marker, "the caller's threading.local data was lost"


class _Interrupting:
    """A body that simulates Ctrl-C (a real SIGINT handler call) in its ``at``-th execution."""

    def __init__(self, body: Callable[[], None], at: int) -> None:
        self.body = body
        self.at = at
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls == self.at:
            t = threading.Thread(target=self.body)
            t.start()
            _thread.interrupt_main()  # as if the user pressed Ctrl-C now
            t.join()
        self.body()


@on_main_thread
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("when", ["hunting", "shrinking"])
def test_ctrl_c_leaves_as_keyboard_interrupt_with_everything_restored(when: str, strategy: str,
                                                                      backend: str) -> None:
    marker = object()
    _local.value = marker
    before = snapshot()
    if when == "hunting":  # a correct program: Ctrl-C in its 2nd execution
        body = _Interrupting(OUTCOMES["pass"], 2)
    else:  # a program failing in every execution: Ctrl-C while its failure is shrunk and replayed
        body = _Interrupting(OUTCOMES["body raises"], 2)
    with pytest.raises(KeyboardInterrupt):
        interleave.explore(body, executions=50, seed=1, strategy=strategy, backend=backend)
    assert body.calls == body.at, "the exploration went on after Ctrl-C"
    assert_same(before, snapshot())
    assert getattr(_local, "value", None) is marker


@on_main_thread
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_during_replay_is_keyboard_interrupt(backend: str) -> None:
    token = interleave.explore(lost_update, executions=200, seed=1, backend=backend).failure.token  # type: ignore
    before = snapshot()
    with pytest.raises(KeyboardInterrupt):
        interleave.replay(_Interrupting(lost_update, 1), token, backend=backend)
    assert_same(before, snapshot())


@on_main_thread
def test_ctrl_c_inside_an_endless_loop_is_keyboard_interrupt() -> None:
    calls = []

    def body() -> None:
        calls.append(1)
        _thread.interrupt_main()
        while True:  # the interrupt must stop even a loop with no switch point
            pass

    with pytest.raises(KeyboardInterrupt):
        interleave.explore(body, executions=10, seed=1, max_steps=10**9)
    assert calls == [1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("kind", [KeyboardInterrupt, GeneratorExit])
def test_a_keyboard_interrupt_a_thread_raises_itself_is_a_finding_not_ctrl_c(strategy: str, backend: str,
                                                                            kind: type) -> None:
    """Real threading prints it and the program goes on: it is the code's doing, not the user's
    (a GeneratorExit that escapes a thread too: it once aborted the whole exploration)."""
    def raises() -> None:
        raise kind("raised by the program")

    def body() -> None:
        t = threading.Thread(target=raises)
        t.start()
        t.join()

    before = snapshot()
    result = interleave.explore(body, executions=5, seed=1, strategy=strategy, backend=backend)
    assert result.failure is not None
    assert isinstance(result.failure.exception, kind), result.failure.exception
    assert "Thread-" in result.failure.report and "raised by the program" in result.failure.report
    assert_same(before, snapshot())


# ------------------------------------------------------------------ the same answer everywhere
def _answers(strategies: List[str], backends: List[str]) -> Dict[str, Any]:
    # strategy="hypothesis" replays failures kept in Hypothesis's example database first (by
    # design, as Hypothesis does): the same seed gives the same answer for the same database, so
    # both processes run it with none.
    from hypothesis import settings

    previous = settings.default
    settings.register_profile("interleave-guarantees", database=None)
    settings.load_profile("interleave-guarantees")
    try:
        out = {}
        for strategy in strategies:
            for backend in backends:
                r = interleave.explore(lost_update, executions=300, seed=5, strategy=strategy, backend=backend,
                                       shrink=False)
                out[f"{strategy}/{backend}"] = [r.executions, r.failure.token if r.failure else None]
        return out
    finally:
        settings.register_profile("interleave-previous", previous)
        settings.load_profile("interleave-previous")


def test_the_same_seed_gives_the_same_answer_in_a_fresh_process_and_after_other_explorations() -> None:
    # Other explorations first, with other filters, models and strategies: nothing they leave
    # in a cache may change what comes after.
    for strategy in ("dpor", "random", "exhaustive"):
        interleave.explore(OUTCOMES["deadlock"], executions=40, seed=3, strategy=strategy, model="gil")
        interleave.explore(lost_update, executions=40, seed=4, strategy=strategy, races="report")
    here = _answers(STRATEGIES, BACKENDS)
    code = (f"import json, sys; sys.path.insert(0, {HERE!r}); import test_guarantees as g; "
            f"print(json.dumps(g._answers({STRATEGIES!r}, {BACKENDS!r})))")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                           cwd=HERE)
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout.strip().splitlines()[-1]) == here


# ------------------------------------------------------------------ no false proof
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_schedules_the_fairness_bound_cut_off_are_never_claimed_as_proved(strategy: str, backend: str) -> None:
    # The failing schedule runs the reader 2,500 picks in a row, past the longest run the fairness
    # bound allows under max_steps=20,000 (2,000): no strategy can reach it, so no strategy may
    # call its search a proof (DPOR did, after 1 execution, before session 12).
    r = interleave.explore(guarantee_programs.reader_race(2500), executions=4, seed=0, strategy=strategy,
                           backend=backend, shrink=False, max_steps=20_000)
    assert not r.exhausted, r.verdict
    if r.failure is None and r.stop_reason == "unproved":
        assert r.not_a_proof == ("fairness",), r
        assert "fairness bound" in r.verdict and "not a proof" in r.verdict, r.verdict


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_correct_program_that_draws_random_numbers_never_fails(strategy: str, backend: str) -> None:
    # A systematic search replays prefixes: with a different ``random`` draw in every execution the
    # program left them, and DPOR and exhaustive reported that as a failure (before session 13).
    r = interleave.explore(guarantee_programs.coin_flips, executions=40, seed=0, strategy=strategy,
                           backend=backend, shrink=False)
    assert r.failure is None and r.stop_reason == "executions", r.verdict  # and no search stopped


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["dpor", "exhaustive"])
def test_a_program_that_changes_between_executions_is_no_failure_and_no_proof(strategy: str,
                                                                               backend: str) -> None:
    r = interleave.explore(guarantee_programs.changing_thread_count, executions=200, seed=0, strategy=strategy,
                           backend=backend, shrink=False)
    assert r.failure is None and not r.exhausted, r.verdict
    assert r.stop_reason == "unproved" and r.not_a_proof == ("divergence",), r
    assert r.executions < 200 and "not a proof" in r.verdict and "stopped at execution" in r.warnings[0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_thread_polling_under_a_lock_never_starves_the_one_it_waits_for(strategy: str, backend: str) -> None:
    # The fairness bound made the poller yield while it held the lock: the other thread blocked at
    # once, the poller's streak started again, and every yield came at the same point, so the run
    # ended at the step limit as a "livelock" (before session 13, under dpor, exhaustive and the
    # default portfolio).
    r = interleave.explore(guarantee_programs.polls_under_a_lock, executions=6, seed=0, strategy=strategy,
                           backend=backend, shrink=False)
    assert r.failure is None, r.failure.report if r.failure else r.verdict


# ------------------------------------------------------------------ every failure replays
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES + ["exhaustive:0", "exhaustive:1"])
def test_a_step_limit_in_a_timed_poll_replays_from_its_token(strategy: str, backend: str) -> None:
    # The fairness bound decided wherever a grant happened to end, and whether the run recorded
    # changed where a parked thread stood: the search and the replay parted ways, and the token
    # of this step limit diverged (before session 14, under exhaustive and dpor). 12,000 steps:
    # above 10,000 the bound follows a thread before it lets it run on.
    name, _, bound = strategy.partition(":")
    options: Dict[str, Any] = {"preemptions": int(bound)} if bound else {}
    r = interleave.explore(guarantee_programs.polls_forever, executions=1, seed=0, strategy=name, backend=backend,
                           shrink=False, max_steps=12_000, **options)
    assert r.failure is not None and r.failure.kind == "step-limit", r.verdict
    assert r.failure.reproducible, r.failure.report
    for _ in range(2):
        again = interleave.replay(guarantee_programs.polls_forever, r.failure.token, backend=backend,
                                  max_steps=12_000)
        assert again.failure is not None and again.failure.kind == "step-limit", again.verdict


# ------------------------------------------------------------------ memory
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_user_class_outlives_its_exploration(strategy: str, backend: str) -> None:
    refs: List[weakref.ref] = []

    def body() -> None:
        class Local(Box):
            pass

        refs.append(weakref.ref(Local))
        obj = Local()

        def inc() -> None:
            obj.n += 1

        ts = [threading.Thread(target=inc) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    interleave.explore(body, executions=20, seed=1, strategy=strategy, backend=backend, races="report")
    assert refs
    del body
    gc.collect()
    alive = [r for r in refs if r() is not None]
    assert not alive, f"{len(alive)} of {len(refs)} classes defined by the body are still alive"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_code_run_by_a_finalizer_when_the_body_ends_is_not_a_switch_point(strategy: str, backend: str) -> None:
    """A weakref callback that fires as the run drops the body's frame runs instrumented code.

    It runs on the scheduler's own greenlet, after every virtual thread is done. Treated as a
    switch point there, it stopped the run from inside the trace function, which drops the
    tracer on 3.10/3.11: every execution of a correct body then ended in InstrumentationError
    (a blinker receiver defined in the body, issue 10).
    """
    fired: List[int] = []
    refs: List[weakref.ref] = []

    def body() -> None:
        box = Box()

        class Receiver:
            pass

        receiver = Receiver()

        def died(_ref: Any) -> None:
            box.n += 1
            fired.append(box.n)

        refs.append(weakref.ref(receiver, died))

        def work() -> None:
            box.n += 0

        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    result = interleave.explore(body, executions=30, seed=2, strategy=strategy, backend=backend)
    assert result.failure is None and result.executions == 30 or result.exhausted
    assert len(fired) == result.executions


@pytest.mark.skipif(sys.version_info < (3, 12), reason="one back-end below 3.12")
def test_switching_back_ends_in_one_process_never_loses_switch_points() -> None:
    # On 3.13, settrace -> monitoring -> settrace once left code objects without opcode events:
    # no switch point at all, and exhaustive search "proved" the racy body correct in 1 execution.
    # A fresh code object for this test, so that the order below is the first this process sees.
    namespace: Dict[str, Any] = {}
    exec(compile(inspect.getsource(lost_update), guarantee_programs.__file__, "exec"),
         vars(guarantee_programs) | namespace, namespace)
    body = namespace["lost_update"]
    answers = []
    for backend in ("settrace", "monitoring", "settrace", "monitoring"):
        r = interleave.explore(body, executions=500, seed=5, strategy="exhaustive", backend=backend,
                               shrink=False)
        answers.append((r.executions, r.failure.kind if r.failure else None, r.exhausted))
    assert answers[0][1] == "exception", answers
    assert len(set(answers)) == 1, answers


def test_a_real_thread_started_between_executions_works() -> None:
    # A progress callback (or a strategy's helper) runs inside the session, outside any
    # execution: threading is patched there, but a thread started then is a real OS thread.
    seen: List[str] = []

    def progress(n: int) -> None:
        if n == 2:
            t = threading.Thread(target=lambda: seen.append(threading.current_thread().name), name="real")
            t.start()
            t.join(30)
            assert not t.is_alive()

    before = snapshot()
    r = interleave.explore(OUTCOMES["pass"], executions=5, seed=1, progress=progress)
    assert r.failure is None, r.verdict
    assert seen == ["real"]
    assert_same(before, snapshot())
