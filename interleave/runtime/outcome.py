"""What one execution did: passed, or which failure, with the schedule it took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple


class Divergence(BaseException):
    """A replayed schedule asked for something the program no longer does."""


@dataclass
class BlockedThread:
    """A waiting thread (stuck in a deadlock, or a timed wait): what it waits for, who holds it, where."""

    thread: str
    tid: int
    waits_for: str
    holder: Optional[str]
    where: Optional[Tuple[str, int, str]]


@dataclass
class Outcome:
    """The end of one execution."""

    kind: str  # passed | exception | deadlock | step-limit | divergence
    exception: Optional[BaseException] = None
    thread: Optional[str] = None
    tid: Optional[int] = None
    blocked: List[BlockedThread] = field(default_factory=list)
    steps: int = 0
    preemptions: int = 0
    runs: List[Tuple[int, int]] = field(default_factory=list)
    lone_points: bool = False  # a lone thread's switch points were counted in ``runs``
    virtual_time: float = 0.0
    #: A timed wait could run out early only when no thread could run (an asyncio loop's timer).
    patient_waits: bool = False
    #: Times the fairness bound made a thread that kept running yield (``fairness.py``).
    fair_yields: int = 0
    detail: str = ""
    # Where a loop ran out of iterations (step limit with no switch point): (file, line, function).
    loop_site: Optional[Tuple[str, int, str]] = None
    # Timed waits that ran out while other threads could still run, with their deadlines in
    # virtual time (recorded runs only: the report's).
    expired: Tuple[Tuple[BlockedThread, float], ...] = ()
    # At the step limit: the looping thread was reading the clock in its loop (waiting by polling).
    polling: bool = False
    # At the step limit (recorded runs only): the threads that were waiting, with the virtual time
    # their wait would time out at (None: no timeout). The loop may be waiting for one of them.
    waiting: Tuple[Tuple[BlockedThread, Optional[float]], ...] = ()

    @property
    def failed(self) -> bool:
        """Anything but a pass."""
        return self.kind != "passed"

    def signature(self) -> tuple:
        """Identity of a failure for shrinking: same kind, exception type and location."""
        if self.kind == "exception" and self.exception is not None:
            tb = self.exception.__traceback__
            last = None
            while tb is not None:
                last = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
                tb = tb.tb_next
            return (self.kind, type(self.exception).__name__, last)
        return (self.kind,)
