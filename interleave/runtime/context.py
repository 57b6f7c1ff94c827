"""The execution currently running on this process (at most one: explore does not nest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .execution import Execution

active: Optional[Execution] = None
