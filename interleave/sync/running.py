"""The execution that owns the calling greenlet, if any."""

from __future__ import annotations

from _thread import get_ident as real_get_ident
from typing import TYPE_CHECKING, Optional

from ..runtime import context

if TYPE_CHECKING:
    from ..runtime.execution import Execution


def running() -> Optional[Execution]:
    """The execution scheduling this OS thread, or None (then primitives behave as real ones).

    Still the execution while it tears down: the ``finally`` blocks of unwound threads must
    see their own virtual ident and must not block the OS thread on a real lock (parking
    raises instead).
    """
    ex = context.active
    if ex is None or real_get_ident() != ex.os_ident:
        return None
    return ex
