"""The execution that owns the calling greenlet, if any."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from _thread import get_ident as real_get_ident

from ..runtime import context

if TYPE_CHECKING:
    from ..runtime.execution import Execution


def running() -> "Optional[Execution]":
    """The execution scheduling this OS thread, or None (then primitives behave as real ones)."""
    ex = context.active
    if ex is None or ex.tearing_down or real_get_ident() != ex.os_ident:
        return None
    return ex
