"""The execution currently running on this process (at most one: explore does not nest)."""

from __future__ import annotations

from typing import Any

#: The running ``execution.Execution``, or None. Typed loosely on purpose: the wait queue reads
#: it, and this module sits below the execution, so it cannot name it.
active: Any = None
