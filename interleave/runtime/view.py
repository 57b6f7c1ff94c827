"""What a strategy may see of a running execution: thread ids and their next operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from .operation import SwitchPoint

if TYPE_CHECKING:
    from .execution import Execution


class ExecutionView:
    """Read-only window on an execution for strategies that weigh operations (POS, DPOR)."""

    __slots__ = ("_ex",)

    def __init__(self, ex: Execution) -> None:
        self._ex = ex

    def pending(self, tid: int) -> Optional[SwitchPoint]:
        """The switch point thread ``tid`` stands at: the operation it executes when it next runs.

        ``code`` is None for a synchronisation operation, described by ``op``; None overall for
        a thread that has not reached a switch point yet.
        """
        threads = self._ex.threads
        return threads[tid].pending if 0 <= tid < len(threads) else None

    @property
    def now(self) -> float:
        """The execution's virtual time."""
        return self._ex.now
