"""``explore`` and ``replay``: the entry points users call."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Callable, List, Optional, Sequence, Set, Tuple, Union

from .errors import NestedExploreError
from .exploration import run_executions
from .options import callable_body, flag, optional_callable, optional_int, optional_seconds, positive_int
from .options import model as checked_model
from .options import names as checked_names
from .options import timeouts as checked_timeouts
from .races import RaceChecker, check_mode, recorder_for
from .report import diagnose, failure_header, render_report
from .result import Failure, Result
from .runtime import context
from .runtime.operation import OpKind
from .runtime.outcome import Outcome
from .runtime.recorder import Recorder, Tee
from .session import Session
from .strategies import registry
from .strategies.base import Strategy
from .strategies.replay import ReplayStrategy
from .sync.vtime import _real_perf_counter as _clock
from .thread_warnings import ended_threads_note, kept_threads_warning, outside_warnings
from .token import Schedule, decode, encode

DEFAULT_EXECUTIONS = 1000
DEFAULT_MAX_STEPS = 100_000
# Executions' worth of steps that shrinking a step-limit failure may take.
STEP_LIMIT_SHRINK_RUNS = 6
# Switch points at the end of a step-limit run that its report shows.
STEP_LIMIT_WINDOW = 2_000


def _body_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def explore(
    fn: Callable[[], Any],
    *,
    executions: int = DEFAULT_EXECUTIONS,
    strategy: Union[str, Strategy] = "portfolio",
    seed: Optional[int] = None,
    model: str = "instruction",
    time_budget: Optional[float] = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    preemptions: Optional[int] = None,
    depth: Optional[int] = None,
    instrument: Sequence[str] = (),
    exclude: Sequence[str] = (),
    backend: str = "auto",
    shrink: bool = True,
    hint: Optional[str] = None,
    races: str = "ignore",
    stall_timeout: Optional[float] = None,
    progress: Optional[Callable[[int], None]] = None,
    timeouts: str = "anytime",
) -> Result:
    """Run ``fn`` under many interleavings until one fails or the budget is spent.

    ``races="report"`` also checks every execution for data races (conflicting accesses that no
    synchronisation orders) and lists them in ``Result.races``; ``races="fail"`` makes the first
    execution with a race a failure (see :mod:`interleave.races`).

    ``stall_timeout`` (seconds, default 10) ends a run that computes that long without reaching
    a switch point (a loop in C or in code that is not instrumented) with ``StalledRunError``;
    a run idle for real (I/O, a foreign lock) ends with ``RealBlockingError`` or
    ``ForeignPrimitiveError`` after 2 s. Both are inconclusive: neither a pass nor a failure.

    ``progress``, if given, is called after each execution with the number run so far (for a
    live progress line); it runs outside any execution.

    ``timeouts="anytime"`` (the default) lets the earliest pending timeout (a timed wait, a
    ``sleep``) run out while other threads could still run, since any thread may be slow;
    ``timeouts="when-stuck"`` lets one run out only when no thread can run, for code whose
    timeouts are safety nets (``t.join(timeout=10)``, ``future.result(timeout=5)``).
    """
    callable_body(fn)
    executions = positive_int("executions", executions)
    seed = optional_int("seed", seed)
    model = checked_model(model)
    timeouts = checked_timeouts(timeouts)
    time_budget = optional_seconds("time_budget", time_budget)
    max_steps = positive_int("max_steps", max_steps)
    preemptions = optional_int("preemptions", preemptions)
    depth = optional_int("depth", depth, 1)
    instrument = checked_names("instrument", instrument)
    exclude = checked_names("exclude", exclude)
    stall_timeout = optional_seconds("stall_timeout", stall_timeout)
    progress = optional_callable("progress", progress, "taking the number of executions run")
    shrink = flag("shrink", shrink)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
    strat = registry.make(strategy, seed, preemptions=preemptions, depth=depth)
    strat.expect(executions)
    strat.use_timeouts(timeouts)
    checker = RaceChecker(races) if check_mode(races) != "ignore" else None

    def races_found(outcome: Outcome, rseed: int) -> bool:
        return checker is not None and checker.end_execution(
            outcome, _schedule_of(outcome, model, rseed, timeouts, max_steps))

    start = _clock()
    first: Optional[Tuple[Outcome, Schedule]] = None
    try:
        with Session(fn, model=model, max_steps=max_steps, instrument=instrument, exclude=exclude,
                     backend=backend, stall_timeout=stall_timeout, timeouts=timeouts) as session:
            run = run_executions(session, strat, executions=executions, seed=seed, start=start,
                                 time_budget=time_budget, recorder=lambda: recorder_for(strat, checker),
                                 after=races_found if checker is not None else None, progress=progress)
            ran, exhausted, stop = run.executions, run.exhausted, run.stop
            if run.failed is not None and isinstance(run.failed.exception, NestedExploreError):
                raise run.failed.exception  # a misuse, not a finding: no report, no token
            if run.failed is not None:
                first = (run.failed, _schedule_of(run.failed, model, run.failed_seed, timeouts, max_steps))
            elapsed = _clock() - start
            failure = None
            if first is not None:
                found_by = strat.describe_active()
                failure = _explain(session, fn, first[0], first[1], shrink=shrink, strategy=found_by,
                                   model=model, executions=ran, elapsed=elapsed, hint=hint)
            elif checker is not None and checker.stop:
                failure = checker.failure(session, fn, strategy=strat.describe(), executions=ran, elapsed=elapsed,
                                          hint=hint)
            session.check_interrupt()
            blind = uninstrumented_packages(session.filter, fn, failure.exception if failure is not None else None)
            advice = not_instrumented_hint(blind)
    finally:
        strat.close()  # after the session: Hypothesis's engine ends its run with nothing patched
    return Result(failure=failure, executions=ran, exhausted=exhausted, elapsed=elapsed,
                  strategy=strat.describe(), model=model, seed=seed, stop_reason=stop, timeouts=timeouts,
                  bound=strat.bound_description, not_a_proof=run.not_a_proof,
                  races=list(checker.races) if checker is not None else [],
                  strategy_stats=dict(strat.stats),
                  warnings=run.notes() + (ended_threads_note(session.ended_daemons) if failure is None else [])
                  + ([advice] if advice else []),
                  uninstrumented=blind)


def _library_package(filename: str) -> Optional[str]:
    """The top-level package of an installed library's file (under site-packages), else None."""
    parts = filename.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            i = len(parts) - 1 - parts[::-1].index(marker)
            if i + 1 < len(parts) - 0 and not parts[i + 1].endswith((".dist-info", ".egg-info")):
                top = parts[i + 1]
                return top[:-3] if top.endswith(".py") else top
    return None


# Libraries that are the harness, never code under test: not worth instrumenting.
_HARNESS = frozenset({"interleave", "interleave_pytest", "pytest", "_pytest", "pluggy", "hypothesis", "greenlet",
                      "xdist", "execnet", "pytest_timeout", "_hypothesis_pytestplugin"})


def uninstrumented_packages(code_filter: Any, fn: Any, exc: Optional[BaseException] = None) -> List[str]:
    """Installed libraries the body reaches that are not instrumented: races inside them are invisible.

    Found in the failure's traceback and exception chain, and among what the body and the
    functions of code under test it references use (globals, closures), two calls deep.
    """
    found: List[str] = []

    def add_file(filename: Optional[str]) -> None:
        if not filename or not isinstance(filename, str):
            return
        pkg = _library_package(filename)
        if pkg and pkg not in found and pkg not in _HARNESS and not code_filter.wants_file(filename):
            found.append(pkg)

    seen_exc: Set[int] = set()
    while exc is not None and id(exc) not in seen_exc:
        seen_exc.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            add_file(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__

    def module_file(value: Any) -> Optional[str]:
        import types

        if isinstance(value, types.ModuleType):
            return getattr(value, "__file__", None)
        modname = getattr(value, "__module__", None) if isinstance(value, (type, types.FunctionType)) \
            else getattr(type(value), "__module__", None)
        mod = sys.modules.get(modname) if isinstance(modname, str) else None
        return getattr(mod, "__file__", None)

    visited: Set[int] = set()

    def walk(f: Any, depth: int) -> None:
        import types

        f = getattr(f, "__func__", f)
        if isinstance(f, functools.partial):
            for v in (*f.args, *f.keywords.values()):
                add_file(module_file(v))
            f = f.func
        code = getattr(f, "__code__", None)
        if code is None or id(f) in visited or depth < 0:
            return
        visited.add(id(f))
        values: List[Any] = []
        glb = getattr(f, "__globals__", {})
        stack = [code]
        while stack:
            c = stack.pop()
            values += [glb[n] for n in c.co_names if n in glb]
            stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        for cell in getattr(f, "__closure__", None) or ():
            try:
                values.append(cell.cell_contents)
            except ValueError:
                pass
        values += list(getattr(f, "__defaults__", None) or ())
        for v in values:
            add_file(module_file(v))
            if isinstance(v, (types.FunctionType, types.MethodType, functools.partial)):
                file = getattr(getattr(getattr(v, "__func__", v), "__code__", None), "co_filename", None)
                if file is None or code_filter.wants_file(file):
                    walk(v, depth - 1)

    try:
        walk(fn, 2)
    except Exception:  # noqa: BLE001 - advice only: never let it break a verdict
        pass
    return found


def not_instrumented_hint(packages: Sequence[str]) -> str:
    """The advice for libraries the run reached without seeing inside them; '' when there are none."""
    if not packages:
        return ""
    names = ", ".join(repr(p) for p in packages)
    return (f"Not instrumented: the code under test uses {', '.join(packages)} (installed libraries: their code runs "
            "as single steps, so a race inside them cannot be found and a failure there is not explained). "
            f"To look inside, add instrument=[{names}] to explore(), or "
            f"@pytest.mark.interleave(instrument=[{names}]) in a test.")


def replay(
    fn: Callable[[], Any],
    token: str,
    *,
    max_steps: Optional[int] = None,
    instrument: Sequence[str] = (),
    exclude: Sequence[str] = (),
    backend: str = "auto",
    hint: Optional[str] = None,
    stall_timeout: Optional[float] = None,
    races: str = "ignore",
) -> Result:
    """Run ``fn`` under exactly the schedule recorded in ``token``.

    ``races="fail"`` checks the run for data races as ``explore(..., races="fail")`` does, so
    that the token of a race failure fails again. ``max_steps`` defaults to the step limit the
    token was recorded under.
    """
    callable_body(fn)
    schedule = decode(token)
    checker = RaceChecker(races) if check_mode(races) == "fail" else None
    if max_steps is None:
        max_steps = schedule.max_steps or DEFAULT_MAX_STEPS
    max_steps = positive_int("max_steps", max_steps)
    start = _clock()
    stall_timeout = optional_seconds("stall_timeout", stall_timeout)
    with Session(fn, model=schedule.model, max_steps=max_steps, instrument=checked_names("instrument", instrument),
                 exclude=checked_names("exclude", exclude), backend=backend, stall_timeout=stall_timeout,
                 timeouts=schedule.timeouts) as session:
        recorder = Recorder()
        follower = ReplayStrategy(schedule.runs, schedule.lone_points)
        tee = Tee(recorder, checker.recorder()) if checker is not None else recorder
        outcome = session.run_once(follower, schedule.random_seed, tee)
        elapsed = _clock() - start
        failure = None
        if outcome.kind == "passed" and follower.index < len(schedule.runs):
            # The program ended before the schedule did (a body that never starts a thread never asks
            # the schedule anything): it was not followed, which is no pass.
            outcome.kind = "divergence"
            outcome.detail = (f"the program ended after {follower.index} of the schedule's {len(schedule.runs)} "
                              "runs: the token was not followed (it may belong to another test, or the code changed)")
        if outcome.kind == "divergence":
            here = os.environ.get("PYTHONHASHSEED", "random")
            if schedule.hash_seed != here:
                outcome.detail += (f". The token was recorded with PYTHONHASHSEED={schedule.hash_seed} and this "
                                   f"run has PYTHONHASHSEED={here}: set PYTHONHASHSEED={schedule.hash_seed} "
                                   "and replay again")
        if outcome.failed:
            failure = _failure_from(outcome, schedule, recorder, strategy="replay", executions=1, elapsed=elapsed,
                                    fn=fn, hint=hint, notes=outside_warnings(session.outside_waiters()),
                                    replay_arguments=session.replay_arguments())
        elif checker is not None and checker.end_execution(outcome, schedule):
            failure = checker.failure(session, fn, strategy="replay", executions=1, elapsed=elapsed, hint=hint)
        session.check_interrupt()
    here = os.environ.get("PYTHONHASHSEED", "random")
    other_hashes = failure is None and schedule.hash_seed not in ("random", here)
    return Result(failure=failure, executions=1, exhausted=False, elapsed=elapsed, strategy="replay",
                  model=schedule.model, seed=None, stop_reason="failure" if failure else "replayed",
                  timeouts=schedule.timeouts,
                  warnings=[f"the token was recorded with PYTHONHASHSEED={schedule.hash_seed} and this run has "
                            f"PYTHONHASHSEED={here}: a failure that depends on the order of a set or dict of "
                            f"strings may not recur. Set PYTHONHASHSEED={schedule.hash_seed} and replay again"]
                  if other_hashes else [])


def switch() -> None:
    """An explicit switch point: inside a run the scheduler may switch threads here."""
    ex = context.active
    if ex is None:
        return
    from .sync.running import running

    if running() is None:
        return
    ex.sync_point(OpKind.SWITCH, None, sys._getframe(1))


def _explain(session: Session, fn: Callable[..., Any], outcome: Outcome, schedule: Schedule, *,
             shrink: bool, strategy: str, model: str, executions: int, elapsed: float,
             hint: Optional[str]) -> Failure:
    """Shrink the failing schedule, replay it to record the trace, and check it reproduces."""
    notes: List[str] = []
    notes += kept_threads_warning(session.kept_daemons(), session.ended_daemons_run)
    if shrink:
        from .shrink import MAX_STEPS, shrink_schedule

        # A step-limit schedule is max_steps long by definition, and so is every attempt to
        # shrink it: a few attempts only, enough for the search with fewer preemptions to find
        # the loop (a sampler's livelock had 24,747 preemptions and a 20,000-character token).
        steps = STEP_LIMIT_SHRINK_RUNS * outcome.steps if outcome.kind == "step-limit" else MAX_STEPS
        schedule = shrink_schedule(session, outcome, schedule, max_steps=steps)
    if outcome.kind == "step-limit":
        # Recording all max_steps points would cost seconds: count them in one replay, then
        # record only its last ``STEP_LIMIT_WINDOW`` steps in the replay that explains.
        recorder = Recorder(skip_steps=max(0, outcome.steps - STEP_LIMIT_WINDOW))
    else:
        recorder = Recorder()
    replayed = session.run_once(ReplayStrategy(schedule.runs, schedule.lone_points), schedule.random_seed, recorder)
    recorder.finish()
    reproducible = replayed.signature() == outcome.signature()
    first_diff = None
    # Replaying twice more shows nondeterminism; a step-limit run already replayed twice above.
    for _ in range(2 if outcome.kind != "step-limit" else 0):
        again_rec = Recorder()
        again = session.run_once(ReplayStrategy(schedule.runs, schedule.lone_points), schedule.random_seed, again_rec)
        again_rec.finish()
        if again.signature() != replayed.signature() or first_diff is None:
            diff = _first_difference(recorder, again_rec)
            if diff is not None or again.signature() != replayed.signature():
                reproducible = False
                first_diff = first_diff or diff
    if not reproducible:
        where = f" It first diverged at {first_diff}." if first_diff else ""
        notes.append(
            "\nWARNING: replaying this schedule did not behave the same way every time: the program has "
            "nondeterminism the harness does not control (real I/O, os.urandom, hash order of sets, "
            "state kept between executions, threads created outside the harness)." + where +
            " The token may not reproduce the failure."
        )
    # A replay that diverged explains nothing: report what the search saw, with the warning.
    final = replayed if replayed.failed and replayed.kind != "divergence" else outcome
    advice = not_instrumented_hint(uninstrumented_packages(session.filter, fn, final.exception))
    if advice:
        notes.append("\n" + advice)
    notes += outside_warnings(session.outside_waiters())
    failure = _failure_from(final, schedule, recorder, strategy=strategy, executions=executions,
                            elapsed=elapsed, fn=fn, hint=hint, notes=notes, replay_arguments=session.replay_arguments())
    failure.reproducible = reproducible
    return failure


def _switches_in(events: Sequence[Any]) -> int:
    """How often the trace goes from one thread to another."""
    return sum(1 for a, b in zip(events, events[1:]) if a.tid != b.tid)


def _schedule_of(outcome: Outcome, model: str, random_seed: int, timeouts: str, max_steps: int) -> Schedule:
    return Schedule(tuple(outcome.runs), model, random_seed, lone_points=outcome.lone_points, timeouts=timeouts,
                    max_steps=None if max_steps == DEFAULT_MAX_STEPS else max_steps)


def _first_difference(a: Recorder, b: Recorder) -> Optional[str]:
    """Where two recordings of the same schedule part ways, in words."""
    from .tracebacks import short_path

    for i, (x, y) in enumerate(zip(a.events, b.events)):
        if (x.tid, x.filename, x.lineno, x.op) != (y.tid, y.filename, y.lineno, y.op):
            def ran(r: Recorder, e: Any) -> str:
                # The operation too: the same thread at the same line may have done another thing.
                return (f"{r.thread_names.get(e.tid, e.tid)} at {short_path(e.filename)}:{e.lineno}"
                        + (f" ({e.op})" if e.op else ""))

            return f"step {i + 1}: one replay ran {ran(a, x)}, another {ran(b, y)}"
    if len(a.events) != len(b.events):
        return f"step {min(len(a.events), len(b.events)) + 1}: one replay stopped earlier than the other"
    return None


def _failure_from(outcome: Outcome, schedule: Schedule, recorder: Recorder, *, strategy: str,
                  executions: int, elapsed: float, fn: Callable[..., Any], hint: Optional[str],
                  notes: List[str], replay_arguments: str = "") -> Failure:
    recorder.finish()
    token = encode(schedule)
    what = outcome.kind
    if outcome.kind == "exception" and outcome.exception is not None:
        what = f"{type(outcome.exception).__name__} in {outcome.thread}"
    if schedule.timeouts == "when-stuck" and any(d is not None for _, d in outcome.waiting):
        notes = notes + ["\nWith timeouts=\"when-stuck\" a pending timeout runs out only when no thread can "
                         "run, and the looping thread never waited: a loop that spins until another thread's "
                         "timeout runs out spins for ever here. Wait in the loop (a sleep, an Event, a timed "
                         "wait) instead of spinning."]
    found = diagnose(outcome, recorder.events, recorder.thread_names)
    if found is not None:  # the pattern first: it is what a reader acts on
        pattern = found.text.split(":")[0]
        what = pattern if outcome.kind == "deadlock" else f"{pattern} ({what})"
    # What the reader sees in the trace: a thread that ran alone while the others waited takes
    # no decision (no run in the token) but is a switch in the table. A step-limit trace shows
    # only its end; the limit is counted once, not with the step that reached it.
    switches = schedule.switches if outcome.kind == "step-limit" else _switches_in(recorder.events)
    steps = outcome.steps
    if outcome.kind == "step-limit":
        steps = min(steps, schedule.max_steps or DEFAULT_MAX_STEPS)
    header = failure_header(
        what, strategy=strategy, model=schedule.model, timeouts=schedule.timeouts, executions=executions,
        elapsed=elapsed,
        schedule=(f"schedule: {outcome.preemptions} preemption{'s' if outcome.preemptions != 1 else ''}, "
                  f"{switches} thread switch{'es' if switches != 1 else ''}, {steps} steps"))
    replay_hint = hint or f"interleave.replay({_body_name(fn)}, {token!r}{replay_arguments})"
    report = render_report(outcome=outcome, events=recorder.events, names=recorder.thread_names,
                           header=header, token=token, replay_hint=replay_hint, notes=notes)
    return Failure(kind=outcome.kind, exception=outcome.exception, token=token, report=report,
                   thread=outcome.thread, steps=outcome.steps, switches=schedule.switches,
                   preemptions=outcome.preemptions,
                   blocked=outcome.blocked, trace=recorder.events, detail=outcome.detail)
