"""One interleave session for all the scenarios of a check.

``interleave.explore`` sets up the controlled world (patches, adoption of pre-existing
primitives, instrumentation, a watchdog) for every call and tears it down after: tens of
milliseconds, more in a large process, since adoption scans the heap. A check explores a
hundred scenarios and Hypothesis asks for more while shrinking, so the set-up would cost more
than the executions. This module opens the session once and runs each scenario's executions
in it, the same way ``explore`` does (same strategy, same per-execution seeds), without
shrinking or reporting: a scenario only needs "failed or not". The failing scenario is then
explored once more with ``interleave.explore`` itself, which shrinks its schedule and writes
the report.

It reads interleave's internal ``Session`` and strategy registry; the hook that would replace
it is a public ``interleave.exploring(**options)`` context whose ``.explore(fn, ...)`` shares
one set-up (see docs/lincheck.md). When the internals are not what this module expects, the
check falls back to one ``interleave.explore`` per scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from .. import options as opt
from ..sync.vtime import _real_perf_counter as _clock

try:  # the internals this fast path needs; without them check() uses explore() per scenario
    from .. import api as _api
    from ..races import recorder_for as _recorder_for
    from ..session import Session as _Session
    from ..strategies import registry as _registry

    _derive_seed: Optional[Callable[[int, int], int]] = getattr(_api, "_derive_seed", None)
    AVAILABLE = _derive_seed is not None and hasattr(_Session, "run_once")
except ImportError:  # pragma: no cover - depends on interleave's internals
    AVAILABLE = False


@dataclass
class Summary:
    """What one scenario's exploration did: enough to decide and to count."""

    failed: bool
    executions: int
    exhausted: bool
    strategy: str
    bound: str
    model: str
    races: List[Any]
    stop: str = "executions"  # what ended it: failure | exhausted | executions | time


class SharedSession:
    """A session that runs many bodies: ``with SharedSession(...) as s: s.explore(body, ...)``."""

    def __init__(self, *, model: str = "instruction", max_steps: Optional[int] = None, instrument: Any = (),
                 exclude: Any = (), backend: str = "auto", stall_timeout: Optional[float] = None) -> None:
        self.model = opt.model(model)
        self._body: Callable[[], Any] = _nothing
        self._session = _Session(
            self._dispatch, model=self.model,
            max_steps=opt.positive_int("max_steps", _api.DEFAULT_MAX_STEPS if max_steps is None else max_steps),
            instrument=opt.names("instrument", instrument), exclude=opt.names("exclude", exclude),
            backend=backend, stall_timeout=opt.optional_seconds("stall_timeout", stall_timeout))

    def _dispatch(self) -> None:
        self._body()

    def __enter__(self) -> SharedSession:
        self._session.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._session.__exit__(*exc)

    def explore(self, body: Callable[[], Any], *, executions: int, strategy: str, seed: int,
                time_budget: Optional[float] = None, preemptions: Optional[int] = None,
                depth: Optional[int] = None) -> Summary:
        """Run ``body`` under up to ``executions`` schedules of ``strategy``; stop at the first failure."""
        strat = _registry.make(strategy, seed, preemptions=opt.optional_int("preemptions", preemptions),
                               depth=opt.optional_int("depth", depth, 1))
        self._body = body
        start = _clock()
        ran = 0
        failed = exhausted = False
        stop = "executions"
        try:
            for i in range(executions):
                if time_budget is not None and _clock() - start >= time_budget:
                    stop = "time"
                    break
                if strat.bounded and strat.exhausted():
                    exhausted = True
                    break
                outcome = self._session.run_once(strat, _derive_seed(seed, i),  # type: ignore[misc]
                                                 _recorder_for(strat, None))
                self._session.check_interrupt()
                ran += 1
                strat.end_execution(outcome)
                if outcome.failed:
                    failed = True
                    break
            else:
                exhausted = bool(strat.bounded and strat.exhausted())
        finally:
            self._body = _nothing
            strat.close()
        exhausted = exhausted and not failed
        stop = "failure" if failed else "exhausted" if exhausted else stop
        return Summary(failed, ran, exhausted, strat.describe(), getattr(strat, "bound_description", ""),
                       self.model, [], stop)


def warm_up(strategy: str, seed: int, preemptions: Optional[int], depth: Optional[int]) -> None:
    """Build one strategy before the session opens: some start a helper thread on first use
    (``hypothesis`` does), which must be a real thread, not one the session would patch."""
    _registry.make(strategy, seed, preemptions=opt.optional_int("preemptions", preemptions),
                   depth=opt.optional_int("depth", depth, 1))


def _nothing() -> None:
    return None
