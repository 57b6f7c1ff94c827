"""The report's paragraph on the timeouts and sleeps a schedule let run out while other threads could run."""

from __future__ import annotations

import textwrap
from typing import Any, Dict, List, Sequence, Tuple

from .runtime.blocked import SLEPT
from .tracebacks import site_text


def expired_lines(expired: Sequence[Tuple[Any, float]]) -> List[str]:
    """The timed waits and sleeps this schedule let run out while other threads could still go on."""
    slept = [b.waits_for == SLEPT for b, _ in expired]
    what, sleeps = ("Sleeps that ended", "a sleep end") if all(slept) else (
        f"Timeouts{' and sleeps' if any(slept) else ''} that ran out", "a pending timeout run out")
    text = (f"{what} while other threads could still run (a thread may be slow, so interleave lets "
            f"{sleeps} at any moment). ")
    if not all(slept):
        text += "If they are only there so that the test never hangs, explore with timeouts=\"when-stuck\" " \
                "(the marker's option, or --interleave-timeouts=when-stuck): a timeout then runs out only " \
                "when no thread can run. "
    if any(slept):
        text += "A sleep orders no threads: the one it gives time to may not have run yet when it ends. Wait " \
                "for that thread instead (join it, or wait on an Event it sets)" + (
                    ", or explore with timeouts=\"when-stuck\" (the marker's option, or "
                    "--interleave-timeouts=when-stuck): a sleep then ends only when no thread can run."
                    if all(slept) else "; under when-stuck a sleep too ends only when no thread can run.")
    lines = textwrap.wrap(text, 92, break_on_hyphens=False)
    # A poller's wait runs out thousands of times before a step limit: one line per wait site.
    groups: Dict[Tuple[str, str, Any], List[float]] = {}
    for b, deadline in expired:
        groups.setdefault((b.thread, b.waits_for, b.where), []).append(deadline)
    for n, ((thread, waits_for, where), deadlines) in enumerate(groups.items()):
        if n == _MAX_EXPIRED_SITES:
            lines.append(f"  ... and {len(groups) - n} more waits")
            break
        ran_out = "ended" if waits_for == SLEPT else "timed out"
        if len(deadlines) == 1:
            lines.append(f"  {thread}: {waits_for} {ran_out} at {deadlines[0]:g} s (virtual time)")
        else:
            lines.append(f"  {thread}: {waits_for} {ran_out} {len(deadlines)} times, from {deadlines[0]:g} s to "
                         f"{deadlines[-1]:g} s (virtual time)")
        if where:
            lines.append(f"    at {site_text(where)}")
    return lines


_MAX_EXPIRED_SITES = 12
