"""What interleave knows about each CPython version it supports: the one place a port edits.

A port to a new CPython adds a row to ``SUPPORTED`` (and the opcode tables in
``instrument/opcodes.py``, the golden reports in ``tests/expected_reports/``); code elsewhere
asks for a named fact (``CURRENT.monitoring``) or compares ``PY`` with a version, and imports
both from here. This module imports nothing from interleave: every layer may use it.
"""

from __future__ import annotations

import sys
import sysconfig
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

#: The running interpreter's (major, minor).
PY: Tuple[int, int] = (sys.version_info[0], sys.version_info[1])


@dataclass(frozen=True)
class Interpreter:
    """The facts about one CPython version that the runtime and the back-ends depend on."""

    #: Offset of ``int tracing`` in ``PyThreadState`` on 64-bit builds (checked by a probe).
    tracing_offset: int
    #: ``sys.monitoring`` exists: the default back-end is ``monitoring``, else ``settrace``.
    monitoring: bool
    #: ``_thread._local`` keys on ``threading_local_key``/``sentinel`` slots besides ``tstate->dict``.
    local_key_slots: bool
    #: A greenlet that calls ``sys.settrace`` clears the thread's ``use_tracing`` flag for the
    #: others (3.10/3.11): tracing must be re-armed when a thread resumes.
    settrace_rearm: bool
    #: settrace delivers opcode events only to frames whose ``f_trace_opcodes`` was set before
    #: the frame's first event (3.12+): set it at first sight of each code object.
    opcode_events_per_code: bool
    #: How settrace makes a code object's first call deliver opcode events (3.12+):
    #: ``"settrace"`` (setting the trace function again re-instruments the running frame) or
    #: ``"trace-lines"`` (the frame's next line event starts them); ``""`` below 3.12.
    first_call_events: str
    #: ``threading`` starts threads through ``_start_joinable_thread`` and ``_ThreadHandle`` (3.13+).
    thread_handles: bool
    #: A new greenlet's first frame takes a fresh frame-stack chunk from the operating system
    #: (3.11+, several microseconds): threads run on reused worker greenlets instead.
    greenlet_start_allocates: bool
    #: Offsets of the ``int`` recursion counters in ``PyThreadState`` that greenlet copies into a
    #: new greenlet (remaining Python depth, the Python limit, and from 3.12 the remaining C
    #: depth; checked by a probe): a thread's worker greenlet is reused only where a new one
    #: would start at the same depth. Empty: a new greenlet for every thread.
    recursion_offsets: Tuple[int, ...]
    #: Offset of ``int recursion_depth`` in ``PyThreadState`` where the thread state counts depth
    #: up against the interpreter's limit instead (3.10; checked by a probe), else None: what
    #: ``runtime/headroom.py`` adjusts when no ``recursion_offsets`` are known.
    depth_counter_offset: Optional[int] = None
    #: A ``sys.settrace`` callback copies the frame's locals dict back into its fast locals and
    #: closure cells when it returns (3.10 always; 3.11/3.12 once the callback read ``f_locals``,
    #: as the access analysis does; gone with PEP 667 in 3.13): a copy taken before a switch
    #: would undo what other threads wrote to a shared cell meanwhile.
    trace_writes_locals_back: bool = False
    #: ``frame.f_locals`` of a function's frame is a dict snapshot kept on the frame, refreshed
    #: only when read again (3.10-3.12; a proxy from 3.13, PEP 667): it holds on to a value the
    #: program deleted from a local since the last read.
    locals_snapshot: bool = False
    #: Offset of ``localsplus`` (locals, cells, free variables) in ``_PyInterpreterFrame`` on
    #: 64-bit builds (3.11+; checked by a probe), where the race check finds the closure cell a
    #: frame uses; None: the frame's referents list its cells (3.10).
    localsplus_offset: Optional[int] = None
    #: ``datetime.datetime.utcnow()`` warns that it is deprecated (3.12+): its virtual twin does too.
    utcnow_deprecated: bool = False


SUPPORTED: Dict[Tuple[int, int], Interpreter] = {
    (3, 10): Interpreter(44, False, False, True, False, "", False, False, (), 32, trace_writes_locals_back=True,
                         locals_snapshot=True),
    (3, 11): Interpreter(44, False, False, True, False, "", False, True, (32, 36), trace_writes_locals_back=True,
                         locals_snapshot=True, localsplus_offset=72),
    (3, 12): Interpreter(44, True, False, False, True, "settrace", False, True, (28, 32, 36),
                         trace_writes_locals_back=True, locals_snapshot=True, localsplus_offset=72,
                         utcnow_deprecated=True),
    (3, 13): Interpreter(60, True, True, False, True, "trace-lines", True, True, (44, 48, 52),
                         localsplus_offset=72, utcnow_deprecated=True),
}

#: A free-threaded build (no GIL): greenlet's single-thread premise and the thread-state
#: offsets above do not hold there.
FREE_THREADED: bool = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

#: Whether this interpreter's version has a row (an explore on any other is refused).
IS_SUPPORTED: bool = PY in SUPPORTED
#: This interpreter's row; on an unsupported version the newest row, so that importing
#: interleave works and ``explore`` can refuse with a clear error.
CURRENT: Interpreter = SUPPORTED.get(PY) or SUPPORTED[max(SUPPORTED)]


def supported_range() -> str:
    """The supported versions for messages, e.g. ``3.10 to 3.13``."""
    versions = sorted(SUPPORTED)
    return f"{versions[0][0]}.{versions[0][1]} to {versions[-1][0]}.{versions[-1][1]}"


def python() -> str:
    """This interpreter's version for messages and tokens, e.g. ``3.12``."""
    return f"{PY[0]}.{PY[1]}"


__all__ = ["CURRENT", "FREE_THREADED", "IS_SUPPORTED", "PY", "SUPPORTED", "Interpreter", "python", "supported_range"]
