"""Per-greenlet bookkeeping of the interpreter's per-thread state that greenlet does not switch.

CPython raises ``tstate->tracing`` while a trace or monitoring callback runs and greenlet does
not save it per greenlet. Switching greenlets from inside a callback would otherwise leave the
target greenlet running with events suppressed. We save the counters before every switch and
put them back on resume; offsets are checked by a probe before first use.

The same save/restore carries the thread-state slots behind ``_thread._local`` (``tstate->dict``
up to 3.12; ``threading_local_key``/``threading_local_sentinel`` on 3.13) and behind
``Py_ReprEnter``: every virtual thread gets its own, so C-level thread-locals (subclasses of
``threading.local`` defined at import time, locals created before the run) are per virtual
thread, exactly as they are per real thread. Their offsets are found by looking for known
pointers in the thread state; if that fails, locals stay per OS thread (the old behaviour).
"""

from __future__ import annotations

import ctypes
import gc
import sys
from typing import Any, Callable, List, Optional, Tuple, TypeVar

from ..errors import UnsupportedInterpreterError
from ..instrument.toolid import free_tool_id
from ..versions import CURRENT, FREE_THREADED, IS_SUPPORTED, supported_range

_SCAN_WORDS = 160  # PyThreadState is well under 1280 bytes on every supported version

_get_tstate = ctypes.pythonapi.PyThreadState_Get
_get_tstate.restype = ctypes.c_void_p
_get_tstate_dict = ctypes.pythonapi.PyThreadState_GetDict
_get_tstate_dict.restype = ctypes.c_void_p
_decref = ctypes.pythonapi.Py_DecRef
_decref.argtypes = [ctypes.c_void_p]
_decref.restype = None

_local_offsets: Optional[Tuple[int, ...]] = None


def _find_local_offsets() -> Tuple[int, ...]:
    """Offsets in PyThreadState of the slots that make ``_thread._local`` per thread."""
    global _local_offsets
    if _local_offsets is not None:
        return _local_offsets
    import _thread

    base = _get_tstate()
    words = (ctypes.c_void_p * _SCAN_WORDS).from_address(base)

    def offset_of(address: int) -> Optional[int]:
        hits = [i * 8 for i in range(_SCAN_WORDS) if words[i] == address]
        return hits[0] if len(hits) == 1 else None

    found: List[int] = []
    d = _get_tstate_dict()  # creates the dict if the thread has none yet
    off = offset_of(d) if d else None
    if off is None:
        _local_offsets = ()
        return _local_offsets
    found.append(off)
    if CURRENT.local_key_slots:
        probe = _thread._local()
        probe.x = 1  # creates this thread's key and sentinel
        key_off = sent_off = None
        for ref in gc.get_referents(probe):
            if isinstance(ref, dict):
                for k in ref:
                    key_off = offset_of(id(k))
            elif isinstance(ref, set):
                for w in ref:
                    target = w()
                    if target is not None:
                        sent_off = offset_of(id(target))
        del probe
        if key_off is None or sent_off is None:
            _local_offsets = ()
            return _local_offsets
        found += [key_off, sent_off]
    _local_offsets = tuple(found)
    return _local_offsets


class TracingCounters:
    """Read and write this OS thread's tracing counters and thread-local slots."""

    __slots__ = ("tracing", "slots", "save", "restore", "switch_to", "depth")

    def __init__(self) -> None:
        if not IS_SUPPORTED or FREE_THREADED or ctypes.sizeof(ctypes.c_void_p) != 8:
            build = "free-threaded" if FREE_THREADED else f"{ctypes.sizeof(ctypes.c_void_p) * 8}-bit"
            raise UnsupportedInterpreterError(
                f"interleave supports 64-bit CPython {supported_range()} with the GIL; this is "
                f"{sys.version.split()[0]} ({build}). Run the tests on a supported interpreter."
            )
        if sys.implementation.name != "cpython":
            raise UnsupportedInterpreterError(
                f"interleave needs CPython; this is {sys.implementation.name}. "
                f"Run the tests on CPython {supported_range()}."
            )
        base = _get_tstate()
        self.tracing = ctypes.c_int.from_address(base + CURRENT.tracing_offset)
        self.slots = [ctypes.c_void_p.from_address(base + o) for o in _find_local_offsets()]
        # The body runs on this thread's own slots: create them now, so that it never creates
        # ones the end of the run would drop.
        _get_tstate_dict()
        if CURRENT.local_key_slots:
            import _thread

            _thread._local().x = 1
        self.save, self.restore, self.switch_to = self._compile()
        #: Where a greenlet first entered now would start (see ``depth_reader``), or None.
        self.depth: Optional[Callable[[], Any]] = depth_reader(base)

    def _compile(self):  # type: ignore[no-untyped-def]
        """Straight-line save/restore closures: they run at every greenlet switch.

        ``switch_to(ex, vt)`` is ``Scheduling``'s switch to virtual thread ``vt`` (its greenlet,
        taken from the pool if it has none yet, entered between a save and a restore, and the
        back-end's ``on_resume`` when the thread resumes outside a callback) in one call: an
        execution switches greenlets a dozen times or more, and a call is a good part of that.
        """
        tr = self.tracing
        slots = self.slots
        if len(slots) == 1:
            s0 = slots[0]

            def save() -> tuple:
                return (tr.value, s0.value)

            def restore(saved: tuple) -> None:
                tr.value = saved[0]
                s0.value = saved[1]

            def switch_to(ex: Any, nxt: Any) -> None:
                ex.current = nxt
                g = nxt.glet
                if g is None:
                    g = ex.greenlet_for(nxt)
                t = tr.value
                v0 = s0.value
                try:
                    g.switch()
                finally:
                    tr.value = t
                    s0.value = v0
                    if not t and ex.on_resume is not None:
                        ex.on_resume()
        elif len(slots) == 3:  # 3.13: tstate->dict and the threading-local key and sentinel
            s0, s1, s2 = slots

            def save() -> tuple:
                return (tr.value, s0.value, s1.value, s2.value)

            def restore(saved: tuple) -> None:
                tr.value, s0.value, s1.value, s2.value = saved

            def switch_to(ex: Any, nxt: Any) -> None:
                ex.current = nxt
                g = nxt.glet
                if g is None:
                    g = ex.greenlet_for(nxt)
                t, v0, v1, v2 = tr.value, s0.value, s1.value, s2.value
                try:
                    g.switch()
                finally:
                    tr.value, s0.value, s1.value, s2.value = t, v0, v1, v2
                    if not t and ex.on_resume is not None:
                        ex.on_resume()
        else:
            def save() -> tuple:
                return (tr.value, *[s.value for s in slots])

            def restore(saved: tuple) -> None:
                tr.value = saved[0]
                for s, v in zip(slots, saved[1:]):
                    s.value = v

            def switch_to(ex: Any, nxt: Any) -> None:
                ex.current = nxt
                g = nxt.glet
                if g is None:
                    g = ex.greenlet_for(nxt)
                saved = save()
                try:
                    g.switch()
                finally:
                    restore(saved)
                    if not saved[0] and ex.on_resume is not None:
                        ex.on_resume()
        return save, restore, switch_to

    def reset_for_new_greenlet(self) -> None:
        """A fresh greenlet starts outside any callback: tracing must be off."""
        self.tracing.value = 0

    def release_locals(self) -> None:
        """A virtual thread has ended: drop its thread-locals, as CPython does for a real thread."""
        for s in self.slots:
            v = s.value
            if v:
                s.value = None
                _decref(v)


T = TypeVar("T")


def read_here_and_deeper(read: Callable[[], T]) -> Tuple[T, T]:
    """``read()`` here and three Python frames deeper: how a probe checks a depth counter."""
    def probe(n: int) -> T:
        return probe(n - 1) if n else read()

    return probe(0), probe(3)


def _recursion_words(base: int) -> Optional[List[Any]]:
    """The thread state's recursion counters that greenlet copies into a new greenlet, checked.

    A probe recurses a few Python frames: the remaining depth must drop by one a frame, the
    limit must be ``sys.getrecursionlimit()``, and the remaining C depth (3.12+) must not move
    with Python-to-Python calls. None if the row has no offsets or the probe disagrees.
    """
    offsets = CURRENT.recursion_offsets
    if not offsets:
        return None
    words = [ctypes.c_int.from_address(base + o) for o in offsets]
    here, deeper = read_here_and_deeper(lambda: tuple(w.value for w in words))
    if here[1] != sys.getrecursionlimit() or deeper[1] != here[1] or deeper[0] != here[0] - 3:
        return None
    if len(words) > 2 and (deeper[2] != here[2] or here[2] <= 0):
        return None
    return words


def depth_reader(base: int) -> Optional[Callable[[], Any]]:
    """A function returning the recursion state a greenlet first entered now would keep.

    greenlet starts a new greenlet at the depth of whoever first switches into it (Python depth,
    and C depth from 3.12) and keeps it for the greenlet's life: a reused greenlet gives a
    thread exactly the room a new one would only if it was first entered at an equal state.
    """
    words = _recursion_words(base)
    if words is None:
        return None
    if len(words) == 2:
        remaining, limit = words

        def depth() -> Any:
            return limit.value - remaining.value
    else:
        remaining, limit, c_remaining = words

        def depth() -> Any:
            return (limit.value - remaining.value, c_remaining.value)
    return depth


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

    if CURRENT.monitoring:
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
