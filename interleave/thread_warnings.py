"""What a failure or a pass says about threads outside the schedule: started before the run, or ended with the body."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from .report import _fill
from .runtime.blocked import READY_TO_RUN
from .tracebacks import short_path, site_text


def outside_warnings(waiters: Sequence[Any]) -> List[str]:
    """A warning per thread started outside the run that waits in an object the run made cooperative."""
    return ["\n" + _fill(
        f"WARNING: thread {w.thread!r} was started before the run, outside it, and waits in {w.method}() "
        + (f"(called at {short_path(w.filename)}:{w.lineno}, in {w.function}) " if w.filename else "")
        + "on an object this run made "
        "cooperative. interleave schedules only the threads the run starts: during the run that thread "
        "never wakes, never takes what the run puts there and never answers. If the test relies on it, "
        "this failure would not happen for real. Fix: start that thread in the test body (it then runs "
        "as a virtual thread), or give the body objects of its own.") for w in waiters]


def kept_threads_warning(ended: Sequence[Any], run: int) -> List[str]:
    """The warning on a failure that came after execution ``run`` ended daemon threads with its body."""
    if not ended:
        return []
    names = ", ".join(b.thread for b in ended[:3]) + (f" and {len(ended) - 3} more" if len(ended) > 3 else "")
    several = len(ended) > 1
    them = "them" if several else "it"
    return ["\n" + _fill(
        f"WARNING: execution {run}, before this one, ended daemon thread{'s' if several else ''} {names} with "
        f"its body, as the interpreter ends daemon threads at exit. A program that starts such a thread once "
        f"and keeps it (a pool's worker started on first use, a service's loop, held in a module or class "
        f"attribute) does not start {them} again: in the executions after it nothing serves what {them} "
        f"served, and this failure (a wait nobody answers, above all) may come from that, not from the "
        f"schedule: for real the thread would still be running. Fix: stop {them} and reset what holds "
        f"{them} in the body, or make the program start {them} anew there.")]


#: What the note on daemon threads ended with the body says (the pytest plugin makes it a warning).
ENDED_THREADS = "still running when the body returned"


def ended_threads_note(ended: Sequence[Any]) -> List[str]:
    """The note on daemon threads a passing execution ended with its body, as the interpreter ends them at exit."""
    if not ended:
        return []
    groups: Dict[Tuple[str, Any], List[str]] = {}  # threads waiting for the same thing at the same place
    for b in ended:
        groups.setdefault((b.waits_for, b.where), []).append(b.thread)
    parts = []
    for (waits_for, where), names in list(groups.items())[:3]:
        who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        state = "ready to run" if waits_for == READY_TO_RUN else f"waiting for {waits_for}"
        parts.append(f"{who}, {state}" + (f" at {site_text(where)}" if where else ""))
    more = f"; and {len(groups) - 3} more places" if len(groups) > 3 else ""
    several = len(ended) > 1
    return [_fill(f"{len(ended)} daemon thread{'s were' if several else ' was'} {ENDED_THREADS} "
                  f"({'; '.join(parts)}{more}). interleave ends {'them' if several else 'it'} with the body, as the "
                  "interpreter ends daemon threads at exit: whatever they served (an actor, a listener, a worker "
                  "started in the body) has no thread after the run, though its library may still count it as "
                  "running, and a later stop() or join() of it waits in vain. Stop them, and join them, before the "
                  "body returns.")]
