"""reorder_10: 10 setters and one checker (see _reorder.py)."""

from __future__ import annotations

from ._reorder import check, setup, workers

__all__ = ["BUGGY", "FIXED", "HARD", "check", "setup"]

HARD = True
BUGGY = workers(10, locked=False)
FIXED = workers(10, locked=True)
