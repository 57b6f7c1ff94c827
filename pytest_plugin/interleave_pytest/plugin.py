"""pytest hooks: the ``interleave`` marker, fixture and options, the cache of failures, and the summary.

A test marked ``@pytest.mark.interleave(...)`` runs its body (fixtures already resolved, once
per test) under :func:`interleave.explore`; a failure fails the test with the report, the token
and the pytest command that replays it. The ``interleave`` fixture gives explicit control.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Dict, Generator, List, Optional

import pytest

from interleave.errors import InconclusiveError, NestedExploreError, OptionError

from .cli import add_options
from .command import WORKER_KEY, launcher
from .fixture import (
    FOREIGN_TOKEN,
    RECORD_KEY,
    RUNNER_KEY,
    TOKEN_SLOT,
    InterleaveFixture,
    Runner,
    diverged_early,
    replay_command,
    replays_here,
)
from .guard import ACTIVE_KEY
from .options import Settings, check_marker_kwargs, merge_markers, read_settings
from .summary import STATS_ATTR, USAGE_KEY, Summary, rerun_options, token_unused, worker_usage_error
from .targets import TARGET_OPTIONS, check_targets
from .undo import real_values_restored
from .xfail import FOUND_KEY, XfailJudge

MARKER_HELP = (
    "interleave(executions=1000, strategy='portfolio', seed=<from the node id>, model='instruction', "
    "preemptions=None, time_budget=None, ...): run the test body under many thread interleavings "
    "(the arguments of interleave.explore); fixtures are created once per test, not per execution"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options: ``--interleave-*`` and the ``interleave_*`` ini keys."""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, read and check the options, clear the cache if asked."""
    config.addinivalue_line("markers", MARKER_HELP)
    config.stash[ACTIVE_KEY] = True
    settings = read_settings(config)
    runner = Runner(config, settings)
    config.stash[RUNNER_KEY] = runner
    config.pluginmanager.register(Summary(config), "interleave-summary")
    config.pluginmanager.register(XfailJudge(), "interleave-xfail")
    if settings.clear and not hasattr(config, "workerinput"):
        runner.store.clear()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker uses the controller's session seed and prints its Reproduce command."""
    runner = node.config.stash.get(RUNNER_KEY, None)
    if runner is not None and runner.settings.session_seed is not None:
        node.workerinput["interleave_session_seed"] = runner.settings.session_seed
    node.workerinput[WORKER_KEY] = launcher(node.config)


def pytest_report_header(config: pytest.Config) -> Optional[List[str]]:
    """One header line, only when a run departs from the defaults (hunting, replay, random seed)."""
    runner = config.stash.get(RUNNER_KEY, None)
    if runner is None:
        return None
    s = runner.settings
    parts = []
    if s.session_seed is not None:
        parts.append(f"seed={s.session_seed}")
    if s.shard != (0, 1):
        parts.append(f"shard {s.shard[0] + 1}/{s.shard[1]}")
    rerun = rerun_options(s)
    if rerun:
        parts[-1] += f" (rerun with {rerun})"
    if "time_budget" in s.cmdline:
        parts.append(f"time budget {s.cmdline['time_budget']:g} s per test")
    if s.replay_token:
        parts.append("replaying a token")
    for key in TARGET_OPTIONS:
        names = tuple(s.ini.get(key, ())) + tuple(n for n in s.cmdline.get(key, ()) if n not in s.ini.get(key, ()))
        if names:
            parts.append(f"{key} {','.join(names)}")
    lines = [f"interleave: {', '.join(parts)}"] if parts else []
    unbounded = default_bound(s)
    if unbounded:
        lines.append(unbounded)
    return lines or None


def default_bound(settings: Settings) -> str:
    """For a command-line bounded strategy without a bound: which bound its tests use."""
    name = settings.cmdline.get("strategy")
    if name is None or "preemptions" in settings.cmdline or "preemptions" in settings.ini:
        return ""
    from interleave.strategies import registry

    from .options import strategy_params

    if "preemptions" not in strategy_params(name):
        return ""
    try:
        bound = str(getattr(registry.make(name, 0), "bound_description", ""))
    except Exception:  # a strategy that describes its bound only once running
        bound = ""
    if not bound:
        return ""
    return (f"interleave: --interleave-strategy={name} without --interleave-preemptions: {bound} (a marker's "
            "preemptions= still applies to its test; each test's execution budget still ends the search)")


def _uses_interleave(item: pytest.Item) -> bool:
    return item.get_closest_marker("interleave") is not None or "interleave" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Session-wide instrument/exclude names must resolve; ``--interleave-replay`` replays one test."""
    runner = config.stash.get(RUNNER_KEY, None)
    if runner is None:
        return
    # Checked here rather than at configure: test modules and conftests may put the packages on sys.path.
    try:
        for key in TARGET_OPTIONS:
            for where, values, label in (("command line", runner.settings.cmdline, f"--interleave-{key}"),
                                         ("ini", runner.settings.ini, f"interleave_{key}")):
                if key in values:
                    check_targets(tuple(values[key]), f"{label} ({where})")
    except pytest.UsageError as exc:
        if not hasattr(config, "workerinput"):
            raise
        # A usage error on a pytest-xdist worker is an internal error of the controller that
        # hides the message: each interleave test fails with it instead.
        runner.settings.bad_option = str(exc)
    if runner.settings.replay_token is None:
        return
    chosen = [item.nodeid for item in items if _uses_interleave(item)]
    if len(chosen) > 1:
        shown = "\n  ".join(chosen[:5]) + ("\n  ..." if len(chosen) > 5 else "")
        problem = (f"--interleave-replay replays one test, but {len(chosen)} interleave tests are selected:\n  "
                   f"{shown}\nselect the failing test with its node id, as in the report's Reproduce line, or with -k")
        worker_output = getattr(config, "workeroutput", None)
        if worker_output is None:
            raise pytest.UsageError(problem)
        # Raised on an xdist worker it would be the controller's INTERNALERROR: every worker collects the
        # same tests, so each runs none and the controller ends with this usage error.
        worker_output[USAGE_KEY] = problem
        config.hook.pytest_deselected(items=list(items))
        items[:] = []


def _marker_kwargs(item: pytest.Item) -> Dict[str, Any]:
    """The test's marker arguments: its module's, class's and own markers merged, the closest winning."""
    markers = list(item.iter_markers("interleave"))  # closest first
    for marker in markers:
        check_marker_kwargs(tuple(marker.args), marker.kwargs, "@pytest.mark.interleave")
    return merge_markers([m.kwargs for m in reversed(markers)])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A malformed marker (or session option, on an xdist worker) fails that test before anything runs."""
    runner = item.config.stash.get(RUNNER_KEY, None)
    if runner is not None and runner.settings.bad_option and _uses_interleave(item):
        pytest.fail(runner.settings.bad_option, pytrace=False)
    if item.get_closest_marker("interleave") is None:
        return
    problem = None
    try:
        marker = _marker_kwargs(item)
        runner = item.config.stash.get(RUNNER_KEY, None)
        if runner is not None and "interleave" not in getattr(item, "fixturenames", ()):
            # With the fixture, an explicit call can still supply the strategy the marker's parameters need.
            runner.options(item, marker)
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:  # outside the except block: one line, no chained traceback
        pytest.fail(problem, pytrace=False)
    if not isinstance(item, pytest.Function) or type(item).__name__ == "TestCaseFunction":
        # Never a silent single run: these items are not run through pytest_pyfunc_call.
        pytest.fail(f"@pytest.mark.interleave cannot explore {type(item).__name__} items (unittest.TestCase "
                    "methods, non-Python tests): call interleave.explore(body).raise_for_failure() in the test",
                    pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Optional[bool]:
    """Run a marked test's body under ``interleave.explore``."""
    if pyfuncitem.get_closest_marker("interleave") is None:
        return None
    if "interleave" in pyfuncitem.fixturenames:
        return None  # the test drives explorations itself through the fixture; the marker sets defaults
    runner = pyfuncitem.config.stash[RUNNER_KEY]
    marker = _marker_kwargs(pyfuncitem)
    testfunction = pyfuncitem.obj
    if inspect.iscoroutinefunction(testfunction) or inspect.isasyncgenfunction(testfunction):
        pytest.fail("@pytest.mark.interleave explores threads; it cannot run an async test function", pytrace=False)
    argnames = pyfuncitem._fixtureinfo.argnames
    testargs = {arg: pyfuncitem.funcargs[arg] for arg in argnames}
    hyp = getattr(testfunction, "hypothesis", None)
    if hyp is not None and hasattr(hyp, "inner_test"):
        _run_given(pyfuncitem, runner, marker, testfunction, testargs)
        return True
    body = functools.partial(testfunction, **testargs)
    problem = None
    try:
        result = runner.explore(pyfuncitem, body, marker, fixtures=testargs,
                                closure_of=getattr(testfunction, "__func__", testfunction))
    except (ValueError, OptionError, NestedExploreError) as exc:
        problem = str(exc) if str(exc).startswith("@") else f"@pytest.mark.interleave: {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    if result.failure is not None:
        failed = pytest.fail.Exception(result.failure.report, pytrace=False)
        if result.failure.exception is not None:
            pyfuncitem.stash[FOUND_KEY] = (failed, result.failure.exception)  # for xfail(raises=...)
        raise failed
    if result.executions == 0:
        # Nothing was judged (one execution outlasts the time budget): never a silent pass.
        why = "; ".join(result.warnings) or "no execution ran"
        pytest.fail(f"interleave judged no execution of this test: {why}\n(The time budget here: time_budget= "
                    "in the marker, or --interleave-time-budget.)", pytrace=False)
    return True


def _run_given(item: pytest.Function, runner: Runner, marker: Dict[str, Any], testfunction: Any,
               testargs: Dict[str, Any]) -> None:
    """``@given`` and the marker together: Hypothesis draws inputs, each example is explored."""
    from interleave.hypothesis import add_note, raise_for_hypothesis

    hyp = testfunction.hypothesis
    inner = hyp.inner_test
    seed = runner.settings.session_seed
    hint = replay_command(item, given=True, seed=seed, rerun=rerun_options(runner.settings))

    stuck: List[Any] = []  # (error, its traceback) of the first example that could not be judged

    @functools.wraps(inner)
    def explored(*args: Any, **kwargs: Any) -> None:
        if stuck:
            # The test cannot be judged: every further example (Hypothesis's shrinking among them)
            # would wait out the same watchdog, for minutes, to reach the same verdict.
            raise stuck[0][0].with_traceback(stuck[0][1])
        body = functools.partial(inner, *args, **kwargs)
        # Every example is explored from the same seed, so that Hypothesis sees a deterministic test.
        try:
            result = runner.explore(item, body, marker, {"hint": hint}, fixtures=testargs, use_cache=False)
        except InconclusiveError as exc:
            example = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            add_note(exc, f"interleave: inconclusive on the example ({example[:200]}); the test's later "
                          "examples were not explored, since the run cannot be judged until this is fixed")
            stuck.append((exc, exc.__traceback__))
            raise
        raise_for_hypothesis(result)

    old_settings = getattr(testfunction, "_hypothesis_internal_use_settings", None)
    hyp.inner_test = explored
    try:
        if old_settings is not None and getattr(old_settings, "deadline", None) is not None:
            from hypothesis import settings

            # An exploration is many executions: Hypothesis's per-example deadline would misfire.
            testfunction._hypothesis_internal_use_settings = settings(old_settings, deadline=None)
        testfunction(**testargs)
    finally:
        hyp.inner_test = inner
        if old_settings is not None:
            testfunction._hypothesis_internal_use_settings = old_settings


def _importable_name(fn: Any) -> bool:
    """Whether the library's ``interleave.replay(<name>, token)`` line names ``fn`` so that it can be run."""
    name = getattr(fn, "__qualname__", None)
    return isinstance(name, str) and "<" not in name


def _direct_explore(item: pytest.Item, runner: Runner, original: Any) -> Any:
    """``interleave.explore`` as a test calls it directly: the pytest command as the Reproduce line.

    Without it a body defined in the test reads ``interleave.replay(test_x.<locals>.body, ...)``,
    which no one can run. A body with a plain importable name keeps the library's line
    (``interleave.replay(lost_update, ...)`` is a call that runs). With ``--interleave-replay`` the
    call replays the token instead.
    """
    import interleave as library

    calls = [0]

    @functools.wraps(original)
    def explore(fn: Any, **kwargs: Any) -> Any:
        index = calls[0]
        calls[0] += 1
        given_hint = kwargs.get("hint") is not None or _importable_name(fn)
        hint = kwargs.get("hint") if given_hint else replay_command(item, call=index)
        if hint is not None:
            kwargs["hint"] = hint
        token = runner.settings.replay_token
        with real_values_restored(dict(getattr(item, "funcargs", None) or {})):
            if token is not None and replays_here(runner.settings, index):
                replay_kw = {k: kwargs[k] for k in ("max_steps", "instrument", "exclude", "backend",
                                                    "stall_timeout", "races") if k in kwargs}
                runner.replayed = True
                result = library.replay(fn, token, hint=hint, **replay_kw)
                if diverged_early(result) and result.failure is not None:
                    head, _, rest = result.failure.report.partition("\n")
                    result.failure.report = f"{head}\n  {FOREIGN_TOKEN}\n{rest}"
            else:
                result = original(fn, **kwargs)
        if result.failure is not None and not given_hint:
            result.failure.report = result.failure.report.replace(TOKEN_SLOT, result.failure.token)
        return result

    return explore


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    """Tests that call ``interleave.explore`` themselves get the pytest replay command in their reports."""
    runner = item.config.stash.get(RUNNER_KEY, None)
    if runner is None or _uses_interleave(item):
        yield
        return
    import interleave as library

    original = library.explore
    library.explore = _direct_explore(item, runner, original)
    try:
        yield
    finally:
        library.explore = original


@pytest.fixture
def interleave(request: pytest.FixtureRequest) -> InterleaveFixture:
    """Explicit control inside a test: ``interleave.explore(body, ...)`` and ``interleave.replay(body, token)``."""
    runner = request.config.stash[RUNNER_KEY]
    marker = _marker_kwargs(request.node) if isinstance(request.node, pytest.Item) else {}
    return InterleaveFixture(runner, request, marker)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, None]:
    """Attach statistics to the call report; keep failing tokens in the cache, forget fixed ones."""
    outcome = yield
    if call.when != "call":
        return
    rec = item.stash.get(RECORD_KEY, None)
    if rec is None:
        return
    report = outcome.get_result()
    if rec.races:
        report.sections.append(("interleave: data races (races='report')", "\n".join(rec.races)))
    if rec.cut or rec.why_unproved:
        report.sections.append(("interleave: not a proof", "\n".join(rec.cut + rec.why_unproved)))
    if rec.runs:
        stats = {
            "executions": sum(r["executions"] for r in rec.runs),
            "elapsed": sum(r["elapsed"] for r in rec.runs),
            "verdict": _verdict(rec.runs),
            "cut": list(rec.cut),
            "unproved": list(rec.unproved),
            "notes": list(rec.notes),
            "races": list(rec.races),
            "forgotten": list(rec.forgotten),
            "uninstrumented": list(rec.uninstrumented),
            "replayed_token": rec.replayed_token,
        }
        setattr(report, STATS_ATTR, stats)
        # junit XML (it reads the teardown report's copy of item.user_properties): what was covered, from
        # which seed; the token and the replay command are added when a failure is found.
        props: List[Any] = []
        if rec.last_failure is not None:
            props += [("interleave_token", rec.last_failure[0]), ("interleave_replay", rec.last_failure[1])]
        props += [("interleave_executions", stats["executions"]), ("interleave_verdict", stats["verdict"])]
        seed = rec.runs[0].get("seed")
        if seed is not None:
            props.append(("interleave_seed", seed))
        item.user_properties.extend(props)
        report.user_properties.extend(props)
    runner = item.config.stash.get(RUNNER_KEY, None)
    if runner is None or not runner.store.enabled or runner.settings.replay_token is not None:
        return
    if report.failed:
        for index, token, options in rec.failing:
            runner.store.save(item.nodeid, index, token, options)
    elif report.passed:
        for index in rec.touched:
            runner.store.drop(item.nodeid, index)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A replay that replayed nothing is no pass: a mistyped node id must not read as 'the failure is gone'."""
    if worker_usage_error(session.config) or (token_unused(session.config) and exitstatus == pytest.ExitCode.OK):
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def _verdict(runs: List[Dict[str, Any]]) -> str:
    """One exploration's verdict, or a digest of several (``@given`` explores once per example)."""
    if len(runs) == 1:
        return str(runs[0]["verdict"])
    kinds = list(dict.fromkeys(r["verdict"] for r in runs))
    if len(kinds) == 1:
        return f"{len(runs)} explorations, each {kinds[0]}"
    return f"{len(runs)} explorations, the last {runs[-1]['verdict']}"
