"""Records every switch point of an execution, for reports (only on the replay that explains)."""

from __future__ import annotations

import builtins
import re
import types
import weakref
from dataclasses import dataclass
from types import CodeType
from typing import Any, Dict, List, Optional, Tuple

from ..instrument.access.vocabulary import Loc
from ..instrument.filter import is_user_code_file
from . import context
from .operation import OpKind, SwitchPoint
from .operation import describe as describe_op


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
    # The same, as data for the diagnosis (all stable between replays of one schedule):
    kind: Optional[str] = None  # read | write | acquire | release | start | join
    target: Optional[int] = None  # the location or lock (numbered in order of first use), or the tid
    label: str = ""  # "Counter.value", "cell a", "Lock"
    value: Optional[str] = None  # repr of what a read got or a write stored, at most VALUE_CHARS


def _line_of(code: CodeType, offset: int) -> int:
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line if line is not None else code.co_firstlineno
    return code.co_firstlineno


def _thread_site(fn: Any) -> Tuple[str, int, str]:
    """Where a thread's own code starts: its target, or its class's run()."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return ("?", 0, "?")
    return (code.co_filename, code.co_firstlineno, code.co_name)


def _describe_access(f: types.FrameType, code: CodeType, offset: int) -> Tuple[Any, Optional[dict]]:
    """What the instruction at ``offset`` of ``code``, running in frame ``f``, touches.

    A read or write of shared data, or the sync description of a call (Thread.start/join),
    with the namespace of a global (to show its value: the analysis does not keep it).
    """
    try:
        from ..instrument.access import describe
    except ImportError:  # pragma: no cover - the analysis is optional for reports
        return None, None
    try:
        acc = describe(f, code, offset)
    except Exception:  # noqa: BLE001 - a description must never fail the run
        return None, None
    if acc.kind == "sync":
        return (acc if acc.sync is not None and acc.sync[0] in ("start", "join") else None), None
    if acc.kind not in ("read", "write") or not acc.label or not acc.space:
        # No space: the arguments a builtin reads (``sorted``, ``sum``), the clock: the source
        # line says it better than "read sorted".
        return None, None
    namespace = None
    if acc.space == "global":
        module = _module_of(acc)
        namespace = module.__dict__ if module is not None else f.f_globals
        if module is not None and module.__name__.split(".")[0] in _FOREIGN:
            return None, None
        if acc.kind == "read":
            if module is not None:
                value = getattr(module, str(acc.name), None)
            else:
                value = f.f_globals.get(acc.name, getattr(builtins, str(acc.name), None))
            if isinstance(value, _CODE_LIKE):
                return None, None
    return acc, namespace


def _module_of(acc: Any) -> Optional[types.ModuleType]:
    """The module whose global ``acc`` touches, when it is not the frame's own (``mod.name``)."""
    # A global read by name is always one of the frame's own: only ``mod.name`` names another.
    return acc.obj if isinstance(acc.obj, types.ModuleType) else None

# Looking up a method, a class or a function is how code runs, not shared data: the source
# line says more than "read Thread.join -> <bound method ...>".
_CODE_LIKE = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.ModuleType,
              type, types.BuiltinMethodType, types.MethodWrapperType)


VALUE_CHARS = 60
_ADDRESS = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+")


def show_value(value: Any) -> str:
    """``repr`` without memory addresses (replays must print the same), cut at VALUE_CHARS with ``…``."""
    try:
        shown = repr(value)
    except Exception:  # noqa: BLE001 - a user's broken __repr__ must not fail the report
        shown = f"<{type(value).__name__} (repr failed)>"
    shown = _ADDRESS.sub("", shown)
    if len(shown) > VALUE_CHARS:
        shown = shown[: VALUE_CHARS - 1] + "…"
    return shown


def _label(acc: Any) -> str:
    # An attribute of an object the analysis could not see: its type is not known, and
    # "NoneType.x" would name the wrong one.
    if acc.space == "attr" and acc.obj is None:
        return f"?.{acc.name}"
    return str(acc.label)


def _access_value(acc: Any, namespace: Optional[dict] = None) -> Tuple[bool, Optional[str]]:
    """(keep, value): the value read or written, now that the operation has run."""
    from ..instrument.access import UNKNOWN

    if namespace is not None:
        value = namespace.get(acc.name, getattr(builtins, str(acc.name), UNKNOWN))
    else:
        value = acc.value_now()
    if isinstance(value, _CODE_LIKE):
        return False, None
    if value is UNKNOWN:
        return True, None
    return True, show_value(value)


def _access_text(acc: Any, namespace: Optional[dict] = None) -> Optional[str]:
    """The access with the value it read or wrote, read now that the operation has run."""
    keep, shown = _access_value(acc, namespace)
    if not keep:
        return None
    text = f"{acc.kind} {_label(acc)}"
    if shown is None:
        return text
    return f"{text} {'->' if acc.kind == 'read' else '='} {shown}"


# Modules whose globals are the harness's or the test runner's, never the program's state:
# pytest's assertion rewriting reads ``@pytest_ar._call_reprcompare`` inside the user's assert.
_FOREIGN = ("_pytest", "pytest", "pluggy", "interleave", "pytest_plugin", "_hypothesis", "hypothesis")


class Recorder:
    """Collects events; the runtime calls ``step`` at every switch point while recording.

    A thread at a switch point has not yet executed the operation there: if it is preempted,
    the operation runs when it resumes. So each event is held as the thread's pending one and
    emitted when the thread goes on (its next point, or when it blocks or ends), which puts it
    in the order things really happened.
    """

    def __init__(self, skip_steps: int = 0) -> None:
        # Steps not to record at the start of the run: a step-limit run is recorded only for its
        # last stretch (the execution's steps, as it counts them, decide where that begins).
        self.skip_steps = skip_steps
        self.events: List[Event] = []
        self.pending: dict = {}
        self.thread_names: dict = {}
        self._preempted: Optional[int] = None  # the next event to emit comes right after a preemption
        self._accesses: dict = {}  # tid -> what its pending instruction touches
        self._targets: Dict[Any, int] = {}  # location or lock key -> its number in this run
        self._generation: Dict[int, Tuple[Any, int]] = {}  # id -> (weakref, generation): ids are reused
        self._thread_of: Dict[int, int] = {}  # id(threading.Thread) -> tid
        self._thread_refs: List[Tuple[Event, int]] = []  # start/join events whose thread is resolved at the end

    def _number(self, obj: Any, key: Any) -> int:
        """A number for ``key`` that stays the same for one object and differs when its id is reused."""
        if obj is not None:
            oid = id(obj)
            ref, gen = self._generation.get(oid, (None, 0))
            alive = ref() if ref is not None else None
            if ref is not None and alive is not obj:
                gen += 1
            if ref is None or alive is not obj:
                try:
                    self._generation[oid] = (weakref.ref(obj), gen)
                except TypeError:  # not weakly referenceable: an id stands for the object
                    self._generation[oid] = (lambda: obj, gen)
            key = (key, gen)
        return self._targets.setdefault(key, len(self._targets))

    def step(self, vt: Any, point: SwitchPoint) -> None:
        """A switch point of ``vt``: where it is and the operation it is about to do."""
        self.thread_names[vt.tid] = vt.name
        if self.skip_steps and self._skipping():
            return
        if vt.thread is not None:
            self._thread_of[id(vt.thread)] = vt.tid
        acc = namespace = None
        code, op = point.code, point.op
        if code is not None:
            where = (code.co_filename, _line_of(code, point.offset), code.co_name)
            desc = None
            if point.frame is not None:
                acc, namespace = _describe_access(point.frame, code, point.offset)
        else:
            f = point.frame
            where = ("?", 0, "?")
            while f is not None:
                if is_user_code_file(f.f_code.co_filename):
                    where = (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
                    break
                f = f.f_back
            if where[0] == "?" and op is not None and op.kind is OpKind.START:
                where = _thread_site(op.target)
            desc = describe_op(op)
        self._emit(vt.tid)
        event = Event(vt.tid, where[0], where[1], where[2], desc)
        if op is not None and (op.kind is OpKind.ACQUIRE or op.kind is OpKind.RELEASE) and op.target is not None:
            event.kind = op.kind.value
            event.target = self._number(op.target, ("lock", id(op.target)))
            event.label = type(op.target).__name__
        elif acc is not None and acc.kind == "sync":
            event.kind = acc.sync[0]
            self._thread_refs.append((event, id(acc.sync[1])))
            acc = None
        self.pending[vt.tid] = event
        if acc is not None:
            self._accesses[vt.tid] = (acc, namespace)

    def _skipping(self) -> bool:
        ex = context.active
        if ex is not None and ex.live_steps() < self.skip_steps:
            return True
        self.skip_steps = 0  # from here on everything is recorded
        return False

    def _emit(self, tid: int) -> None:
        e = self.pending.pop(tid, None)
        acc, namespace = self._accesses.pop(tid, (None, None))
        if e is not None:
            if acc is not None:
                keep, value = _access_value(acc, namespace)
                if keep:
                    e.access = _access_text(acc, namespace)
                    e.kind, e.label, e.value = acc.kind, _label(acc), value
                    e.target = self._location(acc)
            if self._preempted is not None:
                e.preempted_before = True
                self._preempted = None
            self.events.append(e)

    def _location(self, acc: Any) -> Optional[int]:
        if len(acc.locs) != 1:
            return None
        key = acc.locs[0][0]
        if key and key[0] == Loc.CELL:  # a closure cell: by name (the harness sees no cell identity)
            return self._number(None, key)
        return self._number(acc.obj, key)

    def switch(self, from_tid: int, to_tid: int, preempted: bool) -> None:
        """The strategy moved from one thread to another."""
        if self.skip_steps and self._skipping():
            return
        if preempted:
            self._preempted = from_tid
        else:
            self._emit(from_tid)  # it blocked or ended: its last operation did run

    def finish(self) -> None:
        """Emit what is still pending (threads that ended without another switch point)."""
        for tid in sorted(self.pending):
            self._emit(tid)
        for event, thread_id in self._thread_refs:
            event.target = self._thread_of.get(thread_id)
        self._thread_refs = []


class Tee:
    """Sends the runtime's recorder calls to several recorders, in order."""

    def __init__(self, *recorders: Any) -> None:
        self.recorders = recorders

    def includes(self, r: Any) -> bool:
        """Whether ``r`` is one of them (a strategy attaching itself checks)."""
        return any(x is r for x in self.recorders)

    def step(self, vt: Any, point: SwitchPoint) -> None:
        for r in self.recorders:
            r.step(vt, point)

    def switch(self, from_tid: int, to_tid: int, preempted: bool) -> None:
        for r in self.recorders:
            r.switch(from_tid, to_tid, preempted)

    def finish(self) -> None:
        for r in self.recorders:
            fin = getattr(r, "finish", None)
            if fin is not None:
                fin()

    def without(self, r: Any) -> Any:
        """The same calls to every recorder but ``r``: a Tee of the rest, the one left, or None."""
        rest = [x for x in self.recorders if x is not r]
        return Tee(*rest) if len(rest) > 1 else (rest[0] if rest else None)
