"""What an exploration found and what it covered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .errors import InterleaveFailure
from .runtime.fairness import EARLY_TIMEOUTS, FAIRNESS_STREAK
from .runtime.outcome import BlockedThread
from .runtime.recorder import Event


@dataclass
class Failure:
    """The first failing execution, shrunk and explained."""

    kind: str  # exception | deadlock | step-limit | divergence
    exception: Optional[BaseException]
    token: str
    report: str
    thread: Optional[str] = None
    steps: int = 0
    switches: int = 0
    preemptions: int = 0
    blocked: List[BlockedThread] = field(default_factory=list)
    trace: List[Event] = field(default_factory=list, repr=False)  # hundreds of steps: the report shows them
    reproducible: bool = True
    detail: str = ""

    def __str__(self) -> str:
        """The report: what failed, the interleaving, the replay token."""
        return self.report


def semantics(model: str, timeouts: str = "anytime") -> str:
    """The rules a run followed, as a report says them: ``instruction model, timeouts when stuck``."""
    return f"{model} model" + (", timeouts when stuck" if timeouts == "when-stuck" else "")


# Why a search that ran out of schedules did not cover them all: in a few words (a report's line),
# and as the verdict says it.
NOT_A_PROOF = {
    "fairness": ("a thread was made to yield by the fairness bound",
                 f"a thread that ran {FAIRNESS_STREAK:,} or more switch points in a row while another could run "
                 "was made to yield (the fairness bound that ends spin-waits), or a thread that could run was "
                 f"run before more timeouts ran out early once {EARLY_TIMEOUTS} had passed it over (the bound "
                 "that keeps pollers from starving it), so schedules in which it ran on, or waited on, were "
                 "never explored"),
    "loop-timer": ("an asyncio loop's timer ran",
                   "an asyncio event loop's timer runs out early only when no thread can run, a choice DPOR's "
                   "classes do not cover. For a proof use strategy='exhaustive'"),
    "divergence": ("the program left a replayed schedule",
                   "the program did not take the same path under the same schedule (it reads something the "
                   "harness does not control: os.urandom, real I/O, object ids, hash order of objects, or state "
                   "an earlier execution left, such as a thread started once and kept), so the "
                   "systematic search had to stop there; no execution before it failed. Make that input "
                   "deterministic in the test for a proof"),
}


@dataclass
class Result:
    """The outcome of ``explore`` or ``replay``: a failure, a bounded proof, or a spent budget."""

    failure: Optional[Failure]
    executions: int
    exhausted: bool
    elapsed: float
    strategy: str
    model: str
    seed: Optional[int]
    stop_reason: str  # failure | exhausted | unproved | executions | time | replayed
    bound: str = ""  # what an exhausted search covered, e.g. "<= 2 preemptions"
    warnings: List[str] = field(default_factory=list)
    races: List[Any] = field(default_factory=list)  # interleave.races.Race, with races="report"/"fail"
    strategy_stats: Dict[str, int] = field(default_factory=dict)  # e.g. dpor: classes, sleep_blocked
    #: Installed packages the run reached without instrumenting them (``warnings`` says what to do).
    uninstrumented: List[str] = field(default_factory=list)
    timeouts: str = "anytime"  # when a pending timeout could run out (``explore(timeouts=...)``)
    #: Why a search that ran out of schedules is no proof (``stop_reason == "unproved"``): "fairness"
    #: (a thread was made to yield), "loop-timer" (an asyncio loop's timer ran under DPOR),
    #: "divergence" (the program left a replayed schedule, so the search stopped).
    not_a_proof: Tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """One line that says what was covered, never more than was."""
        f = self.failure
        if f is not None:
            return (f"FAILED: {f.kind} found by {self.strategy} ({semantics(self.model, self.timeouts)}) after "
                    f"{self.executions} executions in {self.elapsed:.2f} s")
        if self.exhausted:
            scope = self.bound or "the whole schedule space"
            return (f"exhausted: no failure in any schedule ({scope}, {semantics(self.model, self.timeouts)}); "
                    f"{self.executions} executions in {self.elapsed:.2f} s")
        if self.stop_reason == "replayed":
            return "replayed: the recorded schedule ran to the end without failing"
        if self.stop_reason == "unproved":
            return (f"explored: no failure in {self.executions} executions ({self.elapsed:.2f} s, {self.strategy}, "
                    f"{semantics(self.model, self.timeouts)}); this is not a proof: {self.why_unproved()}")
        why = "time budget" if self.stop_reason == "time" else "execution budget"
        return (f"budget spent: no failure in {self.executions} executions ({why}, "
                f"{self.elapsed:.2f} s, {self.strategy}, {semantics(self.model, self.timeouts)}); this is not a proof")

    def __str__(self) -> str:
        """What ``print(result)`` shows: the failure's report, or the verdict; then any warning not in it."""
        text = self.verdict if self.failure is None else self.failure.report
        return "\n\n".join([text] + [f"warning: {w}" for w in self.warnings if w not in text])

    def why_unproved(self, brief: bool = False) -> str:
        """Why a search that ran out of schedules is no proof (``stop_reason == "unproved"``)."""
        return ("; and ", " and ")[brief].join(NOT_A_PROOF[w][0 if brief else 1] for w in self.not_a_proof)

    def raise_for_failure(self) -> None:
        """Raise ``InterleaveFailure`` (an AssertionError) carrying the report, if a run failed."""
        if self.failure is not None:
            raise InterleaveFailure(self.failure.report, self)
