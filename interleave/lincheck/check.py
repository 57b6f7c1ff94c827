"""``lincheck.check`` and ``lincheck.replay``: scenarios from Hypothesis, interleavings from ``explore``.

Hypothesis draws scenarios (see :mod:`.scenario`) and shrinks a failing one; every scenario is
one exploration (see :mod:`.hunt` and :mod:`.engine`) of a body that runs it and checks the
history it produced (see :mod:`.subject` and :mod:`.search`). The exploration of a scenario is
deterministic (the same seed for every scenario), so Hypothesis sees a deterministic test and
its shrinking keeps only scenarios that still fail. The shrunk scenario is explored once more
with interleave's own shrinking to get the report.
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from ..api import replay as replay_body
from ..errors import OptionError
from ..options import optional_int, optional_seconds
from ..sync.vtime import _real_perf_counter as _clock
from .history import CallRecord
from .hunt import ScenarioHunt
from .operation import Operation, check_operations, check_spec
from .report import convert
from .result import LincheckResult
from .subject import Subject
from .token import decode as decode_token
from .token import encode as encode_token

DEFAULT_SCENARIOS = 100
DEFAULT_EXECUTIONS = 200


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
    ``instrument``, ``exclude``, ``shrink``, ``races``, ``stall_timeout``, ``timeouts``) go to ``explore``.
    """
    ops = _validate(factory, operations, spec, post)
    threads = _count("threads", threads, 1)
    ops_per_thread = _count("ops_per_thread", ops_per_thread, 1)
    init = _count("init", init, 0)
    scenarios = _count("scenarios", scenarios, 1)
    executions = _count("executions", executions, 1)
    seed = optional_int("seed", seed)
    time_budget = optional_seconds("time_budget", time_budget)
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
    subject = Subject(factory, ops, spec, post)
    hunt = ScenarioHunt(subject, seed=seed, strategy=strategy, executions=executions, per_scenario=None
                     if time_budget is None else time_budget / scenarios, time_budget=time_budget,
                     options=explore_options)
    start = _clock()
    failing = hunt.run(ops, threads=threads, ops_per_thread=ops_per_thread, init=init, scenarios=scenarios)
    shape = f"{'2-' if threads > 2 else ''}{threads} threads x <= {ops_per_thread} calls"
    if threads == 1:
        shape = f"1 thread x <= {ops_per_thread} calls"
    if init:
        shape += f", <= {init} init calls"
    failure = None
    history: List[CallRecord] = []
    warnings: List[str] = []
    if failing is not None:
        final = hunt.explore(failing, shrink=shrink)
        if final.failure is None:
            warnings.append(f"the failing scenario ({failing.shape}) did not fail when explored again: the code "
                            "under test has nondeterminism the harness does not control")
        else:
            token = encode_token(failing, ops, final.failure.token)
            reproduce = (hint.replace("{token}", token) if hint else
                         f"interleave.lincheck.replay({_subject_name(factory)}, <the same operations>, {token!r}"
                         + (", spec=..." if spec is not None else "") + (", post=..." if post is not None else "")
                         + ")")
            found = (f"scenario {hunt.scenarios} of at most {scenarios} tried, shrunk by Hypothesis in "
                     f"{hunt.shrink_runs} runs; seed={seed}")
            failure = convert(final.failure, operations=ops, scenario=failing, history=subject.last_history,
                              post=post, subject=_subject_name(factory), token=token, reproduce=reproduce,
                              found=found)
            history = getattr(failure.exception, "history", None) or subject.last_history
    elapsed = _clock() - start
    first = hunt.first
    exhausted = failure is None and hunt.scenarios > 0 and hunt.exhausted_scenarios == hunt.scenarios
    stop = "failure" if failure is not None else ("exhausted" if exhausted else hunt.stop)
    return LincheckResult(
        failure=failure, executions=hunt.executions, exhausted=exhausted, elapsed=elapsed,
        strategy=first.strategy if first is not None else strategy,
        model=first.model if first is not None else explore_options.get("model", "instruction"),
        seed=seed, stop_reason=stop, bound=first.bound if first is not None else "",
        races=hunt.races, scenarios=hunt.scenarios, exhausted_scenarios=hunt.exhausted_scenarios,
        shrink_runs=hunt.shrink_runs, shape=shape, scenario=failing if failure is not None else None,
        history=history, warnings=warnings)


_EXPLORE_OPTIONS = ("model", "preemptions", "depth", "max_steps", "backend", "instrument", "exclude", "races",
                    "stall_timeout", "timeouts")


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
    scenario, il_token = decode_token(token, ops)
    subject = Subject(factory, ops, spec, post)
    start = _clock()
    result = replay_body(subject.body(scenario), il_token, hint="lincheck", **replay_options)
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
