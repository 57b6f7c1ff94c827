"""Records every switch point of an execution, for reports (only on the replay that explains)."""

from __future__ import annotations

import builtins
import sys
import types
from dataclasses import dataclass
from types import CodeType
from typing import Any, List, Optional, Tuple

from ..instrument.filter import is_user_code_file


@dataclass
class Event:
    """One switch point: which thread, where in the code, and the operation if a sync op."""

    tid: int
    filename: str
    lineno: int
    function: str
    op: Optional[str]
    preempted_before: bool = False  # another thread was preempted to run this one
    blocked_before: bool = False  # the previous thread could not go on
    access: Optional[str] = None  # e.g. "read Counter.value -> 0", once the operation ran


def _line_of(code: CodeType, offset: int) -> int:
    if sys.version_info >= (3, 10):
        for start, end, line in code.co_lines():
            if start <= offset < end:
                return line if line is not None else code.co_firstlineno
        return code.co_firstlineno
    import dis

    line = code.co_firstlineno
    for off, ln in dis.findlinestarts(code):
        if off > offset:
            break
        line = ln
    return line


_THREAD_OPS = {"start": "(thread starts)"}


def _thread_site(fn: Any) -> Tuple[str, int, str]:
    """Where a thread's own code starts: its target, or its class's run()."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return ("?", 0, "?")
    return (code.co_filename, code.co_firstlineno, code.co_name)


def _describe_op(op: Any) -> str:
    if isinstance(op, tuple) and op:
        name = op[0]
        target = op[1] if len(op) > 1 else None
        if name in _THREAD_OPS:
            return _THREAD_OPS[name]
        if name == "sleep":
            return f"sleep({target})"
        return f"{type(target).__name__}.{name}" if target is not None else str(name)
    return str(op)


def _describe_access(code: CodeType, offset: int) -> Any:
    """What the instruction at ``offset`` of the innermost frame running ``code`` touches."""
    try:
        from ..instrument.access import describe
    except ImportError:  # pragma: no cover - the analysis is optional for reports
        return None
    f = sys._getframe(1)
    while f is not None and f.f_code is not code:
        f = f.f_back
    if f is None:
        return None
    try:
        acc = describe(f, code, offset)
    except Exception:  # noqa: BLE001 - a description must never fail the run
        return None
    if acc.kind not in ("read", "write") or not acc.label:
        return None
    if acc.space == "global" and acc.kind == "read":
        if isinstance(acc.obj, types.ModuleType):
            value = getattr(acc.obj, str(acc.name), None)
        else:
            value = f.f_globals.get(acc.name, getattr(builtins, str(acc.name), None))
        if isinstance(value, _CODE_LIKE):
            return None
    return acc


# Looking up a method, a class or a function is how code runs, not shared data: the source
# line says more than "read Thread.join -> <bound method ...>".
_CODE_LIKE = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.ModuleType,
              type, types.BuiltinMethodType, types.MethodWrapperType)


def _access_text(acc: Any) -> Optional[str]:
    """The access with the value it read or wrote, read now that the operation has run."""
    from ..instrument.access import UNKNOWN

    value = acc.value_now()
    if isinstance(value, _CODE_LIKE):
        return None
    if value is UNKNOWN:
        return acc.text
    shown = repr(value)
    if len(shown) > 24:
        shown = shown[:21] + "..."
    return f"{acc.text} {'->' if acc.kind == 'read' else '='} {shown}"


class Recorder:
    """Collects events; the runtime calls ``step`` at every switch point while recording.

    A thread at a switch point has not yet executed the operation there: if it is preempted,
    the operation runs when it resumes. So each event is held as the thread's pending one and
    emitted when the thread goes on (its next point, or when it blocks or ends), which puts it
    in the order things really happened.
    """

    def __init__(self) -> None:
        self.events: List[Event] = []
        self.pending: dict = {}
        self.thread_names: dict = {}
        self._preempted: Optional[int] = None  # the next event to emit comes right after a preemption
        self._accesses: dict = {}  # tid -> what its pending instruction touches

    def step(self, vt: Any, code: Optional[CodeType], offset: int, op: Any) -> None:
        """A switch point of ``vt``: where it is and the operation it is about to do."""
        self.thread_names[vt.tid] = vt.name
        acc = None
        if code is not None:
            where = (code.co_filename, _line_of(code, offset), code.co_name)
            desc = None
            acc = _describe_access(code, offset)
        else:
            f = sys._getframe(2)
            where = ("?", 0, "?")
            while f is not None:
                if is_user_code_file(f.f_code.co_filename):
                    where = (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
                    break
                f = f.f_back
            if where[0] == "?" and isinstance(op, tuple) and op and op[0] in _THREAD_OPS:
                where = _thread_site(op[1])
            desc = _describe_op(op)
        self._emit(vt.tid)
        self.pending[vt.tid] = Event(vt.tid, where[0], where[1], where[2], desc)
        if acc is not None:
            self._accesses[vt.tid] = acc

    def _emit(self, tid: int) -> None:
        e = self.pending.pop(tid, None)
        acc = self._accesses.pop(tid, None)
        if e is not None:
            if acc is not None:
                e.access = _access_text(acc)
            if self._preempted is not None:
                e.preempted_before = True
                self._preempted = None
            self.events.append(e)

    def switch(self, from_tid: int, to_tid: int, preempted: bool) -> None:
        """The strategy moved from one thread to another."""
        if preempted:
            self._preempted = from_tid
        else:
            self._emit(from_tid)  # it blocked or ended: its last operation did run

    def finish(self) -> None:
        """Emit what is still pending (threads that ended without another switch point)."""
        for tid in sorted(self.pending):
            self._emit(tid)
