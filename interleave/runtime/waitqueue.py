"""The one blocking primitive: threads park on a queue and are unparked by others."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

from . import context

if TYPE_CHECKING:
    from .execution import VThread


class WaitQueue:
    """Threads parked on one synchronisation object; every primitive is built on this."""

    __slots__ = ("waiters", "owner", "describe")

    def __init__(self, owner: object = None, describe: str = "") -> None:
        self.waiters: List[VThread] = []
        self.owner = owner  # the primitive this queue belongs to, for deadlock reports
        self.describe = describe

    def unpark_one(self) -> Optional[VThread]:
        """Make the longest-waiting thread runnable again."""
        if not self.waiters:
            return None
        t = self.waiters.pop(0)
        t.unpark()
        _cut()
        return t

    def unpark_all(self) -> int:
        """Make every waiting thread runnable again; they compete in scheduler order."""
        ws = self.waiters
        if not ws:
            return 0
        self.waiters = []
        for t in ws:
            t.unpark()
        _cut()
        return len(ws)


def _cut() -> None:
    # A thread became runnable: end the current grant so the strategy sees it at the next point.
    ex = context.active
    if ex is not None:
        ex.cut_grant()
