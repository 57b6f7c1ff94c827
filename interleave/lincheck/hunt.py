"""Hypothesis's run over scenarios: draw, explore, shrink the failing one."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..api import explore
from ..errors import InterleaveError
from ..result import Result
from ..sync.vtime import _real_perf_counter as _clock
from .engine import SharedSession, Summary, shared_enabled, warm_up
from .operation import Operation
from .scenario import Scenario, draw_scenario
from .subject import Subject


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


class ScenarioHunt:
    """Hypothesis's run over scenarios, and the explorations it asks for."""

    def __init__(self, subject: Subject, *, seed: int, strategy: str, executions: int,
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
        return explore(self.subject.body(scenario), executions=self.executions_each, strategy=self.strategy,
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
        fast = shared_enabled() and self.options.get("races", "ignore") == "ignore"
        try:
            if fast:
                session_options = {k: v for k, v in self.options.items() if k in _SESSION_OPTIONS}
                warm_up(self.strategy, self.seed, self.options.get("preemptions"), self.options.get("depth"))
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


_SESSION_OPTIONS = ("model", "max_steps", "instrument", "exclude", "backend", "stall_timeout", "timeouts")


