"""What a strategy may see of a running execution: thread ids and their next operations."""

from __future__ import annotations

from types import CodeType
from typing import TYPE_CHECKING, Any, Optional, Tuple

if TYPE_CHECKING:
    from .execution import Execution

Pending = Tuple[Optional[CodeType], int, Any]


class ExecutionView:
    """Read-only window on an execution for strategies that weigh operations (POS, DPOR)."""

    __slots__ = ("_ex",)

    def __init__(self, ex: Execution) -> None:
        self._ex = ex

    def pending(self, tid: int) -> Optional[Pending]:
        """The operation thread ``tid`` will execute when it next runs: (code, offset, sync op).

        ``code`` is None for a synchronisation operation, whose description is the third item;
        None overall for a thread that has not reached a switch point yet.
        """
        threads = self._ex.threads
        return threads[tid].pending if 0 <= tid < len(threads) else None

    @property
    def now(self) -> float:
        """The execution's virtual time."""
        return self._ex.now
