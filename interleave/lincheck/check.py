"""``lincheck.check`` and ``lincheck.replay``: scenarios from Hypothesis, interleavings from ``explore``.

Hypothesis draws scenarios (see :mod:`.scenario`) and shrinks a failing one; every scenario is
one ``interleave.explore`` of a body that runs it and checks the history it produced (see
:mod:`.search`). The exploration of a scenario is deterministic (the same seed for every
scenario), so Hypothesis sees a deterministic test and its shrinking keeps only scenarios
that still fail. The shrunk scenario is explored once more with interleave's own shrinking
to get the report.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple, Union

from .. import api
from .. import options as opt
from ..errors import InterleaveError, OptionError
from ..result import Result
from ..runtime import context
from ..sync.vtime import _real_perf_counter as _clock
from . import engine
from . import token as lctoken
from .engine import SharedSession, Summary
from .history import CallRecord, Raised, run_scenario
from .operation import Operation, check_operations, check_spec
from .report import convert
from .result import LincheckResult, NotLinearizable
from .scenario import Scenario, draw_scenario
from .search import Model, linearizable

DEFAULT_SCENARIOS = 100
DEFAULT_EXECUTIONS = 200


class _Stop(BaseException):
    """Ends Hypothesis's run at once: the time budget is spent, or an error that is not a finding."""

    def __init__(self, error: Optional[BaseException] = None) -> None:
        super().__init__()
        self.error = error


class _ScenarioFailed(Exception):
    """A scenario whose exploration failed: what Hypothesis shrinks."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(f"scenario of {scenario.shape} failed")
        self.scenario = scenario


def _result_key(value: Any) -> Optional[Hashable]:
    if isinstance(value, Raised):
        return ("raised", type(value.exc))
    try:
        hash(value)
    except Exception:  # noqa: BLE001 - unhashable: this history is checked without the cache
        return None
    return ("value", type(value), value)


class _Subject:
    """The object under test and how to run scenarios of it: one per ``check`` or ``replay``."""

    def __init__(self, factory: Callable[[], Any], operations: Sequence[Operation], spec: Any,
                 post: Optional[Callable[[Any], Any]]) -> None:
        self.factory = factory
        self.operations = operations
        self.post = post
        self.model = Model(spec if spec is not None else factory, operations, spec is not None, post)
        self.last_history: List[CallRecord] = []

    def body(self, scenario: Scenario) -> Callable[[], None]:
        """The body ``explore`` runs for one scenario; it raises ``NotLinearizable`` when the check fails."""
        verdicts: Dict[Hashable, bool] = {}  # many interleavings give the same history

        def lincheck_scenario() -> None:
            history: List[CallRecord] = []
            self.last_history = history
            run_scenario(self.factory, self.operations, scenario, self.post, history)
            parts = tuple((r.start, r.end, _result_key(r.result)) for r in history)
            key = None if any(p[2] is None for p in parts) else parts
            ok = verdicts.get(key) if key is not None else None
            if ok is None:
                # The spec runs as if outside the run: no switch points, no steps, real locks.
                active, context.active = context.active, None
                try:
                    ok = linearizable(history, self.model)
                finally:
                    context.active = active
                if key is not None:
                    verdicts[key] = ok
            if not ok:
                raise NotLinearizable(history)

        return lincheck_scenario


def _subject_name(factory: Any) -> str:
    return str(getattr(factory, "__qualname__", None) or getattr(factory, "__name__", None) or repr(factory))


def _validate(factory: Any, operations: Any, spec: Any, post: Any) -> Tuple[Operation, ...]:
    if not callable(factory):
        raise OptionError(f"lincheck: the factory must be callable and return a fresh object; got {factory!r}")
    ops = check_operations(operations)
    if post is not None and not callable(post):
        raise OptionError(f"lincheck: post must be None or a callable taking the object; got {post!r}")
    if spec is not None:
        check_spec(spec, ops)
    return ops


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionError(f"lincheck.check: {name} must be a whole number >= {minimum}; got {value!r}")
    return value


def check(
    factory: Callable[[], Any],
    operations: Sequence[Union[Operation, Callable[..., Any]]],
    *,
    threads: int = 2,
    ops_per_thread: int = 3,
    init: int = 0,
    post: Optional[Callable[[Any], Any]] = None,
    spec: Optional[Callable[[], Any]] = None,
    scenarios: int = DEFAULT_SCENARIOS,
    executions: int = DEFAULT_EXECUTIONS,
    seed: Optional[int] = None,
    strategy: str = "portfolio",
    time_budget: Optional[float] = None,
    hint: Optional[str] = None,
    **explore_options: Any,
) -> LincheckResult:
    """Is ``factory()``'s object linearizable under ``operations``? Search scenarios and their interleavings.

    A scenario has ``init`` calls at most (run before the threads start), then 1 to ``threads``
    threads (at least 2 when ``threads`` >= 2) of 1 to ``ops_per_thread`` calls each. Each of at
    most ``scenarios`` scenarios is explored for at most ``executions`` interleavings with
    ``strategy``; every history must be explained by some sequential order of its calls on
    ``spec()`` (default: ``factory()``, one call at a time). ``post(obj)``, if given, is a last
    call after the threads end, compared like the others with ``post(spec_obj)``.
    ``time_budget`` (seconds) bounds the whole check; each scenario gets an equal share. Other
    keyword arguments (``model``, ``preemptions``, ``depth``, ``max_steps``, ``backend``,
    ``instrument``, ``exclude``, ``shrink``, ``races``, ``stall_timeout``) go to ``explore``.
    """
    ops = _validate(factory, operations, spec, post)
    threads = _count("threads", threads, 1)
    ops_per_thread = _count("ops_per_thread", ops_per_thread, 1)
    init = _count("init", init, 0)
    scenarios = _count("scenarios", scenarios, 1)
    executions = _count("executions", executions, 1)
    seed = opt.optional_int("seed", seed)
    time_budget = opt.optional_seconds("time_budget", time_budget)
    if not isinstance(strategy, str):
        raise OptionError("lincheck.check: strategy must be a strategy name (each scenario gets a fresh "
                          f"strategy); got {strategy!r}")
    shrink = explore_options.pop("shrink", True)
    unknown = sorted(set(explore_options) - set(_EXPLORE_OPTIONS))
    if unknown:
        raise OptionError(f"lincheck.check got unknown argument{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)}")
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
    subject = _Subject(factory, ops, spec, post)
    search = _Search(subject, seed=seed, strategy=strategy, executions=executions, per_scenario=None
                     if time_budget is None else time_budget / scenarios, time_budget=time_budget,
                     options=explore_options)
    start = _clock()
    failing = search.run(ops, threads=threads, ops_per_thread=ops_per_thread, init=init, scenarios=scenarios)
    shape = f"{'2-' if threads > 2 else ''}{threads} threads x <= {ops_per_thread} calls"
    if threads == 1:
        shape = f"1 thread x <= {ops_per_thread} calls"
    if init:
        shape += f", <= {init} init calls"
    failure = None
    history: List[CallRecord] = []
    warnings: List[str] = []
    if failing is not None:
        final = search.explore(failing, shrink=shrink)
        if final.failure is None:
            warnings.append(f"the failing scenario ({failing.shape}) did not fail when explored again: the code "
                            "under test has nondeterminism the harness does not control")
        else:
            token = lctoken.encode(failing, ops, final.failure.token)
            reproduce = (hint.replace("{token}", token) if hint else
                         f"interleave.lincheck.replay({_subject_name(factory)}, <the same operations>, {token!r}"
                         + (", spec=..." if spec is not None else "") + (", post=..." if post is not None else "")
                         + ")")
            found = (f"scenario {search.scenarios} of at most {scenarios} tried, shrunk by Hypothesis in "
                     f"{search.shrink_runs} runs; seed={seed}")
            failure = convert(final.failure, operations=ops, scenario=failing, history=subject.last_history,
                              post=post, subject=_subject_name(factory), token=token, reproduce=reproduce,
                              found=found)
            history = getattr(failure.exception, "history", None) or subject.last_history
    elapsed = _clock() - start
    first = search.first
    exhausted = failure is None and search.scenarios > 0 and search.exhausted_scenarios == search.scenarios
    stop = "failure" if failure is not None else ("exhausted" if exhausted else search.stop)
    return LincheckResult(
        failure=failure, executions=search.executions, exhausted=exhausted, elapsed=elapsed,
        strategy=first.strategy if first is not None else strategy,
        model=first.model if first is not None else explore_options.get("model", "instruction"),
        seed=seed, stop_reason=stop, bound=first.bound if first is not None else "",
        races=search.races, scenarios=search.scenarios, exhausted_scenarios=search.exhausted_scenarios,
        shrink_runs=search.shrink_runs, shape=shape, scenario=failing if failure is not None else None,
        history=history, warnings=warnings)


_EXPLORE_OPTIONS = ("model", "preemptions", "depth", "max_steps", "backend", "instrument", "exclude", "races",
                    "stall_timeout")


class _Search:
    """Hypothesis's run over scenarios, and the explorations it asks for."""

    def __init__(self, subject: _Subject, *, seed: int, strategy: str, executions: int,
                 per_scenario: Optional[float], time_budget: Optional[float], options: Dict[str, Any]) -> None:
        self.subject = subject
        self.seed = seed
        self.strategy = strategy
        self.executions_each = executions
        self.per_scenario = per_scenario
        self.time_budget = time_budget
        self.options = options
        self.scenarios = self.shrink_runs = self.executions = self.exhausted_scenarios = 0
        self.failed: List[Scenario] = []
        self.first: Optional[Summary] = None
        self.races: List[Any] = []
        self.stop = "executions"
        self.start = _clock()
        self.shared: Optional[SharedSession] = None

    def _budget(self) -> Optional[float]:
        budget = self.per_scenario
        if self.time_budget is not None:
            left = self.time_budget - (_clock() - self.start)
            budget = max(0.001, min(budget or left, left))
        return budget

    def explore(self, scenario: Scenario, *, shrink: bool) -> Result:
        """The full ``interleave.explore`` of one scenario: shrunk schedule, report, token."""
        return api.explore(self.subject.body(scenario), executions=self.executions_each, strategy=self.strategy,
                           seed=self.seed, time_budget=self._budget(), shrink=shrink, hint="lincheck",
                           **self.options)

    def decide(self, scenario: Scenario) -> Summary:
        """Whether some interleaving of ``scenario`` fails (in the shared session when there is one)."""
        if self.shared is not None:
            o = self.options
            summary = self.shared.explore(self.subject.body(scenario), executions=self.executions_each,
                                          strategy=self.strategy, seed=self.seed, time_budget=self._budget(),
                                          preemptions=o.get("preemptions"), depth=o.get("depth"))
        else:
            r = self.explore(scenario, shrink=False)
            summary = Summary(r.failure is not None, r.executions, r.exhausted, r.strategy, r.bound, r.model,
                              list(r.races), r.stop_reason)
        if summary.stop == "time":
            self.stop = "time"
        self.executions += summary.executions
        self.races.extend(summary.races)
        if self.first is None:
            self.first = summary
        return summary

    def run(self, ops: Sequence[Operation], *, threads: int, ops_per_thread: int, init: int,
            scenarios: int) -> Optional[Scenario]:
        """Let Hypothesis draw and shrink scenarios; the shrunk failing one, or None."""
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as hseed
        from hypothesis import strategies as st

        def one_scenario(data: Any) -> None:
            # Draw first: Hypothesis wants the same draws for the same choices, even on the way out.
            scenario = draw_scenario(data, ops, threads, ops_per_thread, init)
            if self.time_budget is not None and _clock() - self.start >= self.time_budget:
                self.stop = "time"
                raise _Stop()
            if self.failed:
                self.shrink_runs += 1
            else:
                self.scenarios += 1
            try:
                summary = self.decide(scenario)
            except InterleaveError as exc:  # misuse or inconclusive: not a finding to shrink
                raise _Stop(exc) from None
            if summary.failed:
                self.failed.append(scenario)
                raise _ScenarioFailed(scenario)
            if summary.exhausted and not self.failed:
                self.exhausted_scenarios += 1

        test = settings(max_examples=scenarios, database=None, deadline=None, derandomize=False,
                        suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink),
                        verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False)(
            hseed(self.seed)(given(st.data())(one_scenario)))
        fast = engine.AVAILABLE and self.options.get("races", "ignore") == "ignore"
        try:
            if fast:
                session_options = {k: v for k, v in self.options.items() if k in _SESSION_OPTIONS}
                engine.warm_up(self.strategy, self.seed, self.options.get("preemptions"), self.options.get("depth"))
                with SharedSession(**session_options) as self.shared:
                    test()
            else:
                test()
        except _ScenarioFailed as exc:
            return exc.scenario
        except _Stop as stop:
            if stop.error is not None:
                raise stop.error from None
        except Exception:  # noqa: BLE001 - e.g. Hypothesis's Flaky: keep the simplest failing scenario seen
            if not self.failed:
                raise
        finally:
            self.shared = None
        if self.failed:
            return min(self.failed, key=lambda s: (len(s.threads), sum(map(len, s.threads)), len(s.init)))
        return None


_SESSION_OPTIONS = ("model", "max_steps", "instrument", "exclude", "backend", "stall_timeout")


def replay(
    factory: Callable[[], Any],
    operations: Sequence[Union[Operation, Callable[..., Any]]],
    token: str,
    *,
    post: Optional[Callable[[Any], Any]] = None,
    spec: Optional[Callable[[], Any]] = None,
    hint: Optional[str] = None,
    **replay_options: Any,
) -> LincheckResult:
    """Run the scenario and the interleaving recorded in a lincheck ``token`` once, and check it again."""
    ops = _validate(factory, operations, spec, post)
    scenario, il_token = lctoken.decode(token, ops)
    subject = _Subject(factory, ops, spec, post)
    start = _clock()
    result = api.replay(subject.body(scenario), il_token, hint="lincheck", **replay_options)
    failure = None
    if result.failure is not None:
        reproduce = (hint.replace("{token}", token) if hint else
                     f"interleave.lincheck.replay({_subject_name(factory)}, <the same operations>, {token!r})")
        failure = convert(result.failure, operations=ops, scenario=scenario, history=subject.last_history,
                          post=post, subject=_subject_name(factory), token=token, reproduce=reproduce,
                          found="replayed from a lincheck token")
    history = getattr(failure.exception if failure else None, "history", None) or subject.last_history
    return LincheckResult(failure=failure, executions=1, exhausted=False, elapsed=_clock() - start,
                          strategy="replay", model=result.model, seed=None,
                          stop_reason="failure" if failure else "replayed", scenarios=1, shape=scenario.shape,
                          scenario=scenario, history=history)
