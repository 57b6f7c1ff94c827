"""The scenario as a table: one column per thread, each call with its arguments and its result."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from .history import INIT, POST, CallRecord
from .operation import Operation
from .scenario import Scenario

WIDTH = 100
ARG_WIDTH = 24  # a longer argument or result is cut, with "..."


def _short(value: Any, limit: int = ARG_WIDTH) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break the report
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_text(operations: Sequence[Operation], op: Optional[int], args: Sequence[Any],
              rec: Optional[CallRecord] = None, post_name: str = "post") -> str:
    """``put_if_absent(0, 3) -> None``; without a result when the call did not return."""
    name = post_name if op is None else operations[op].name
    head = f"{name}({', '.join(_short(a) for a in args)})" if op is not None else f"{name}(obj)"
    if rec is None or rec.end < 0:
        return head + ("  (did not return)" if rec is not None and rec.start >= 0 else "")
    from .history import Raised

    result = str(rec.result) if isinstance(rec.result, Raised) else _short(rec.result)
    return f"{head} -> {result}"


def render_scenario(operations: Sequence[Operation], scenario: Scenario,
                    history: Optional[Sequence[CallRecord]] = None, post: Any = None,
                    width: int = WIDTH) -> str:
    """The table; ``history`` adds the results, ``post`` (the hook) a last line."""
    by_col: dict = {}
    for rec in history or ():
        by_col.setdefault(rec.column, []).append(rec)
    lines: List[str] = []
    if scenario.init:
        recs = by_col.get(INIT, [])
        cells = [call_text(operations, i, a, recs[j] if j < len(recs) else None)
                 for j, (i, a) in enumerate(scenario.init)]
        lines.append("  init (before the threads start): " + "; ".join(cells))
    n = len(scenario.threads)
    col_w = max(16, (width - 2 - 3 * (n - 1)) // max(1, n))
    grid: List[List[str]] = []
    for t, calls in enumerate(scenario.threads):
        recs = by_col.get(t, [])
        grid.append([call_text(operations, i, a, recs[j] if j < len(recs) else None)
                     for j, (i, a) in enumerate(calls)])
    used = [min(col_w, max([len(f"T{t + 1}")] + [len(c) for c in cells])) for t, cells in enumerate(grid)]
    lines.append("  " + " | ".join(f"T{t + 1}".ljust(used[t]) for t in range(n)).rstrip())
    lines.append("  " + "-+-".join("-" * used[t] for t in range(n)))
    for row in range(max(len(c) for c in grid)):
        cells = []
        for t in range(n):
            text = grid[t][row] if row < len(grid[t]) else ""
            if len(text) > used[t]:
                text = text[: used[t] - 3] + "..."
            cells.append(text.ljust(used[t]))
        lines.append("  " + " | ".join(cells).rstrip())
    if post is not None:
        recs = by_col.get(POST, [])
        name = getattr(post, "__name__", "post")
        lines.append("  post (after the threads end): "
                     + call_text(operations, None, (), recs[0] if recs else None, post_name=f"post={name}"))
    return "\n".join(lines)
