"""What a linearizability check found: the failure raised inside a run, and the result of ``check``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from ..result import Result
from .history import CallRecord
from .scenario import Scenario

SENTENCE = "no sequential order of these calls gives these results"


class NotLinearizable(AssertionError):
    """Raised in a run whose history no sequential order of the same calls explains."""

    def __init__(self, history: List[CallRecord]) -> None:
        super().__init__(SENTENCE)
        self.history = history


@dataclass
class LincheckResult(Result):
    """``Result`` of ``lincheck.check``: the totals over all scenarios, plus the failing scenario."""

    scenarios: int = 0  # scenarios explored before the failure or the end of the budget
    exhausted_scenarios: int = 0  # of those, how many a bounded strategy covered entirely
    shrink_runs: int = 0  # scenario explorations Hypothesis ran while shrinking the failing one
    shape: str = ""  # what the scenarios could be, e.g. "2 threads x <= 3 calls"
    scenario: Optional[Scenario] = None  # the failing scenario, shrunk
    history: List[CallRecord] = field(default_factory=list)  # its calls with their results

    @property
    def verdict(self) -> str:
        """One line that says what was covered, never more than was."""
        f = self.failure
        n = self.scenarios
        tried = f"{n} scenario{'s' if n != 1 else ''} ({self.shape})"
        if f is not None:
            where = f" in a scenario of {self.scenario.shape}" if self.scenario is not None else ""
            return (f"FAILED: {f.kind}{where}, found by {self.strategy} ({self.model} model) after {tried}, "
                    f"{self.executions} executions in {self.elapsed:.2f} s")
        if self.stop_reason == "replayed":
            return "replayed: the recorded scenario and interleaving ran to the end, linearizable"
        if self.exhausted:
            scope = f"within bound {self.bound}" if self.bound else "(the whole schedule space)"
            return (f"linearizable for all interleavings {scope} ({self.model} model) of each of {tried}; "
                    f"{self.executions} executions in {self.elapsed:.2f} s. Scenarios not tried are not covered")
        why = "time budget" if self.stop_reason == "time" else "execution budget"
        part = (f", {self.exhausted_scenarios} of them exhaustively within bound {self.bound}"
                if self.exhausted_scenarios else "")
        return (f"budget spent: every history was linearizable in {tried}{part}, {self.executions} executions "
                f"({why}, {self.elapsed:.2f} s, {self.strategy}, {self.model} model); this is not a proof")
