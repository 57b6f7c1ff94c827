"""Per-greenlet bookkeeping of the interpreter's tracing counters.

CPython raises ``tstate->tracing`` while a trace or monitoring callback runs and greenlet does
not save it per greenlet. Switching greenlets from inside a callback would otherwise leave the
target greenlet running with events suppressed. We save the counters before every switch and
put them back on resume; offsets are checked by a probe before first use.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Optional, Tuple

from ..errors import UnsupportedInterpreterError

_PY = sys.version_info[:2]
# Offsets of ``int tracing`` (and, on 3.9, ``int use_tracing``) in PyThreadState, 64-bit builds.
_TRACING_OFFSET = {(3, 9): 44, (3, 10): 44, (3, 11): 44, (3, 12): 44, (3, 13): 60}
_USE_TRACING_OFFSET = {(3, 9): 48}

_get_tstate = ctypes.pythonapi.PyThreadState_Get
_get_tstate.restype = ctypes.c_void_p


class TracingCounters:
    """Read and write this OS thread's tracing counters."""

    __slots__ = ("tracing", "use_tracing")

    def __init__(self) -> None:
        if _PY not in _TRACING_OFFSET or ctypes.sizeof(ctypes.c_void_p) != 8:
            raise UnsupportedInterpreterError(
                f"interleave supports 64-bit CPython 3.9 to 3.13; this is {sys.version.split()[0]} "
                f"({ctypes.sizeof(ctypes.c_void_p) * 8}-bit). Run the tests on a supported interpreter."
            )
        if sys.implementation.name != "cpython":
            raise UnsupportedInterpreterError(
                f"interleave needs CPython; this is {sys.implementation.name}. Run the tests on CPython 3.9-3.13."
            )
        base = _get_tstate()
        self.tracing = ctypes.c_int.from_address(base + _TRACING_OFFSET[_PY])
        off = _USE_TRACING_OFFSET.get(_PY)
        self.use_tracing: Optional[ctypes.c_int] = (
            ctypes.c_int.from_address(base + off) if off is not None else None
        )

    def save(self) -> Tuple[int, int]:
        ut = self.use_tracing
        return self.tracing.value, (ut.value if ut is not None else 0)

    def restore(self, saved: Tuple[int, int]) -> None:
        self.tracing.value = saved[0]
        ut = self.use_tracing
        if ut is not None:
            ut.value = saved[1]

    def reset_for_new_greenlet(self) -> None:
        """A fresh greenlet starts outside any callback: tracing must be off."""
        self.tracing.value = 0


_verified = False


def verify_offsets() -> None:
    """Check once per process that the offsets really point at the tracing counter."""
    global _verified
    if _verified:
        return
    counters = TracingCounters()
    outside = counters.tracing.value
    seen = []

    def probe() -> int:
        x = 1
        return x

    if _PY >= (3, 12):
        mon = sys.monitoring
        tool = free_tool_id()
        mon.use_tool_id(tool, "interleave-probe")
        try:
            def cb(code, offset):  # type: ignore[no-untyped-def]
                seen.append(counters.tracing.value)
                return mon.DISABLE

            mon.register_callback(tool, mon.events.INSTRUCTION, cb)
            mon.set_local_events(tool, probe.__code__, mon.events.INSTRUCTION)
            probe()
        finally:
            mon.set_local_events(tool, probe.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
    else:
        old = sys.gettrace()

        def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
            if frame.f_code is probe.__code__:
                if event == "call":
                    seen.append(counters.tracing.value)
                return None
            return tracer

        sys.settrace(tracer)
        try:
            probe()
        finally:
            sys.settrace(old)
    if outside != 0 or not seen or seen[0] != 1:
        raise UnsupportedInterpreterError(
            "interleave could not locate this interpreter's tracing counter "
            f"(outside={outside}, inside={seen[:1]}); this CPython build is not supported."
        )
    _verified = True


def free_tool_id() -> int:
    """A sys.monitoring tool id nobody else holds."""
    mon = sys.monitoring
    # 0-2 and 5 are conventionally the debugger's, coverage's, the profiler's and the optimizer's.
    for tool in (3, 4, 5, 2, 1, 0):
        if mon.get_tool(tool) is None:
            return tool
    raise UnsupportedInterpreterError("all six sys.monitoring tool ids are in use; free one first")
