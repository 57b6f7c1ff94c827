"""The access tracker: each switch point's Access, exactly, from what earlier loads produced.

At run time an operand is the local's current value, the constant, or the value its producing
instruction read when it executed, kept per frame by the :class:`AccessTracker`; also where a
suspended virtual thread stands (for the race detector).
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType, FunctionType, MethodType
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..filter import HARNESS_DIR
from .analysis import BY_ID, SUSPENDABLE, analyze, instruction_at, may_catch, specs_of
from .evaluate import evaluate_spec, operand, produced_value
from .lifetime import SNAPSHOT, hold, returned
from .models import COMPARING, RESUMED, attr_access, dealias, plain_read_locs, with_reads
from .record import NONE_ACCESS, Access, unknown
from .stack import Spec
from .values import (
    ALIASES,
    LOCAL_TYPES,
    MISSING,
    SHAPES,
    attr_value,
    constructor_init,
    local_slot_value,
    note_instance_dict,
    set_code_filter,
    under_test,
)
from .vocabulary import EVERYTHING, FAST_IMM, FRESH, IMM, UNKNOWN, Abstract, Instance, Loc

_Locs = Tuple[Tuple[tuple, bool], ...]

# interleave's own directory: its frames are the harness around the code under test, whose
# effects are declared at switch points of their own (its primitives), never carried.
_HARNESS_FILES: Dict[str, bool] = {}
# An ``around`` entry's caller for a generator frame whose caller's instruction carries
# accesses: never matches, so the entry is redone at each point (the instruction may differ).
_REDO = object()



def _harness_code(code: CodeType) -> bool:
    hit = _HARNESS_FILES.get(code.co_filename)
    if hit is None:
        hit = _HARNESS_FILES[code.co_filename] = code.co_filename.startswith(HARNESS_DIR)
    return hit


def _on_stack(frame: FrameType) -> bool:
    """Whether ``frame`` is on the stack running now (the thread whose turn it is runs it)."""
    f: Optional[FrameType] = sys._getframe(2)
    while f is not None:
        if f is frame:
            return True
        f = f.f_back
    return False


class AccessTracker:
    """Describes each switch point as an :class:`Access`, exactly, by remembering per frame what
    the producing instructions read when they executed.

    Protocol (as the recorder sees the runtime): ``pick(frame, code, offset)`` when a thread
    reaches an instruction switch point; ``executing(frame, code, offset, access)`` right before
    that instruction runs (for the value a load produces); ``forget()`` between executions.
    """

    def __init__(self, wants: Optional[Callable[[CodeType], bool]] = None, model: str = "instruction",
                 callbacks: bool = False) -> None:
        if wants is not None:
            set_code_filter(wants)
        self.model = model
        self.sync_cache: Dict[Tuple[str, int], Access] = {}
        self.memos: Dict[Any, Dict[int, Any]] = {}
        self.keep: List[Any] = []  # objects touched this execution that stay, ids unique (lifetime.py)
        self.spec: Optional[Spec] = None  # the Spec the latest ``pick`` described (for pick_pending)
        self.in_gen = False  # a generator frame under test has run this execution
        # Every point also carries the accesses of the calls in progress on its stack (models.py):
        # DPOR's dependency relation needs them, the race detector reports the points' own.
        self.callbacks = callbacks
        # frame -> (its caller if it is a generator frame, else None; _around(frame))
        self.around: Dict[FrameType, Tuple[Any, _Locs]] = {}
        self.quiet: Optional[FrameType] = None  # the latest non-generator frame that carries nothing
        self.last: Optional[FrameType] = None  # the frame of the latest point
        # frame -> thread-local loads it ran whose value could not be read then (another thread's
        # turn): (offset, the local, the name), read when the frame reaches its next point
        self.local_loads: Dict[FrameType, List[Tuple[int, Any, str]]] = {}
        # caller frame -> (offset of its call whose value a later instruction reads, the frame of
        # the function under test it called): what that frame returned is the call's value,
        # read when the caller goes on (with ``callbacks``: the first point of the called frame
        # is where the tracker learns which frame it is)
        self.calls: Dict[FrameType, Tuple[int, FrameType]] = {}

    def forget(self) -> None:
        """Drop per-execution state (frames and the objects their ids name)."""
        self.memos, self.around, self.local_loads, self.calls = {}, {}, {}, {}
        self.keep = []
        self.in_gen = False
        self.quiet = self.last = None
        ALIASES.clear()
        RESUMED.reset()

    def _around(self, frame: FrameType) -> _Locs:
        """What every point of ``frame`` touches besides its own instruction, because of where
        it runs (models.py): reads of the running state of the generator frames under test on
        its stack (``frame`` itself included), and, with ``callbacks``, the accesses of each
        instruction of a frame under test that is in progress below it (a call of code the
        harness does not follow that called back into code under test).

        Cached per frame: a function's callers stay where they are while it runs; a generator
        frame's caller is whoever resumed it this time, so its entry holds that caller and is
        redone when another one resumes it.
        """
        around = self.around
        hit = around.get(frame)
        if hit is not None and (hit[0] is None or hit[0] is frame.f_back):
            return hit[1]
        chain = []
        base: _Locs = ()
        calls = self.callbacks
        f: Optional[FrameType] = frame
        while f is not None:
            back = f.f_back
            hit = around.get(f)
            if hit is not None and (hit[0] is None or hit[0] is back):
                base = hit[1]
                break
            if calls and _harness_code(f.f_code):
                break  # the harness: nothing below it is carried (the code under test is above)
            chain.append((f, back))
            f = back
        for f, back in reversed(chain):
            fc = f.f_code
            test = under_test(fc)
            gen = bool(fc.co_flags & SUSPENDABLE)
            key: Any = back if gen else None
            if calls:
                if back is not None and base is not EVERYTHING and under_test(back.f_code):
                    carried = self._in_progress(back, f, test)
                    if carried:
                        base = EVERYTHING if carried is EVERYTHING else base + carried
                        if gen:
                            key = _REDO
            if gen and test and base is not EVERYTHING:
                base = base + (((Loc.FRAME, id(f)), False),)
            around[f] = (key, base)
        return base

    def _in_progress(self, caller: FrameType, f: FrameType, test: bool) -> _Locs:
        """The accesses of the instruction ``caller`` (a frame under test) is in while ``f``, which
        it called, runs: none for a call of ``f``'s own function (a direct call of code under
        test); otherwise its model's locations (a generator resumed is the generator's own read).
        """
        code = caller.f_code
        hit = BY_ID.get(id(code))
        if hit is None:
            hit = specs_of(code)
        offset = caller.f_lasti
        spec = hit[1].get(offset)
        if spec is None:
            offset = instruction_at(code, offset)
            spec = hit[1].get(offset)
            if spec is None:
                return () if hit[2] else EVERYTHING
        if test and spec.op == "call":
            memo = self.memos.get(caller)
            try:
                callee = operand(spec.args[0], caller, memo if memo is not None else {})
            except Exception:  # noqa: BLE001
                callee = UNKNOWN
            if type(callee) is MethodType:
                callee = callee.__func__
            if type(callee) is FunctionType and callee.__code__ is f.f_code:
                if spec.produce and not f.f_code.co_flags & SUSPENDABLE:
                    self.calls[caller] = (offset, f)
                return ()
            if spec.produce and type(callee) is not FunctionType and issubclass(type(callee), type):
                self._constructed(caller, offset, callee, f)
        locs = self.pick(caller, code, offset, False).locs
        if not locs:
            return ()
        own = (Loc.FRAME, id(f))
        out = []
        for loc, w in locs:
            k = loc[0]
            if k == Loc.ALL:
                return EVERYTHING
            if k == Loc.FRAME:
                # A generator frame that is resumed: the resumption is the write, its steps read.
                if loc != own:
                    out.append((loc, False))
            else:
                out.append((loc, w))
        return tuple(out)

    def _constructed(self, caller: FrameType, offset: int, cls: type, f: FrameType) -> None:
        """``cls(...)`` called at ``caller``'s ``offset`` runs ``f``: if ``f`` is the class's
        ``__init__`` run by ``type.__call__`` on what ``object.__new__`` made, its ``self`` is
        what the call returns (kept as the call's value: an object built in a loop header or an
        argument, ``for v in It(3)``, is then known, not any object)."""
        init = constructor_init(cls)
        if init is None or init is not f.f_code:
            return
        obj = f.f_locals.get(init.co_varnames[0], UNKNOWN)
        if type(obj) is not cls:
            return
        memo = self.memos.get(caller)
        if memo is None:
            return
        known = memo.get(offset, UNKNOWN)
        if known is UNKNOWN or type(known) is Instance:  # the object itself is better than its class
            memo[offset] = obj
            hold(self.keep, obj)

    def _returned(self, frame: FrameType, offset: int) -> None:
        """``frame`` goes on after a call of a function under test whose value it reads later:
        the value is what the called frame's return instruction returned (its operand, read in
        the called frame as any operand is)."""
        call_off, f = self.calls.pop(frame)
        if offset == call_off or not _on_stack(frame):
            return  # the same call again (its value is not read before it runs), or not its thread
        memo = self.memos.get(frame)
        if memo is None or memo.get(call_off, UNKNOWN) is not UNKNOWN:
            return
        info = analyze(f.f_code)
        d = info.returns.get(f.f_lasti)
        if d is None:
            return  # it raised, or the return's operand is not known
        fmemo = self.memos.get(f)
        loads = self.local_loads.pop(f, None)
        if loads and fmemo is not None:
            # Thread-local loads of the finished frame: it ran in this thread and returned.
            for off, obj, name in loads:
                if fmemo.get(off) is UNKNOWN:
                    fmemo[off] = local_slot_value(obj, name)
        try:
            v = operand(d, f, fmemo if fmemo is not None else {})
        except Exception:  # noqa: BLE001
            return
        if v is not UNKNOWN:
            memo[call_off] = v
            if type(v) not in FAST_IMM and type(v) is not Abstract:
                hold(self.keep, v)

    def pick(self, frame: FrameType, code: CodeType, offset: int, _outer: bool = True, now: bool = False) -> Access:
        """The access of the instruction at ``offset`` that ``frame`` is about to execute.

        ``now``: the instruction runs right after this, with nothing else in between, so the
        value it produces is kept at once (``executing`` in the same lookup of its Spec and memo).
        """
        if self.local_loads and _outer:
            self._resolve(frame)
        if self.calls and _outer and frame in self.calls:
            self._returned(frame, offset)
        last = self.last
        if frame is not last and _outer:  # a call, a return (dropped: lifetime.py), another thread
            if last is not None and last.f_back is frame and not last.f_code.co_flags & SUSPENDABLE:
                returned(self, last)
            self.last = frame
        hit = BY_ID.get(id(code))
        if hit is None:
            hit = specs_of(code)
        if SNAPSHOT and offset in hit[3] and _outer:
            frame.f_locals  # noqa: B018 - refreshed: a local's dropped value goes (drop_points)
        if _outer and frame is not self.quiet and (hit[0] or self.in_gen or self.callbacks):
            # A generator is running, or a call in progress called back: every point inside it
            # touches what they touch (models.py).
            hit2 = self.around.get(frame)
            if hit2 is not None and (hit2[0] is None or hit2[0] is frame.f_back):
                extra = hit2[1]
            else:
                extra = self._around(frame)
            if hit[0]:
                self.in_gen = True
                self.quiet = None  # a generator frame's entry depends on who resumed it
            elif not extra:
                self.quiet = frame  # most points follow one of the same frame
            if extra:
                acc = with_reads(self.pick(frame, code, offset, False), extra)
                if now:
                    self.executing(frame, code, offset, acc)
                return acc
        spec = self.spec = hit[1].get(offset)
        if spec is None:
            if not hit[2]:
                return unknown("unanalysed code")
            return NONE_ACCESS
        const = spec.const
        if const is not None and spec.gdict is frame.f_globals:
            if now and spec.produce:
                memo = self.memos.get(frame)
                if memo is None:
                    memo = self.memos[frame] = {}
                self._produce(spec, frame, memo)
            return const
        memo = self.memos.get(frame)
        if memo is None:
            memo = self.memos[frame] = {}
        op = spec.op
        try:
            if op == "attr_r" or op == "attr_w":
                # The hot case, inlined: an attribute of an object a local or a load produced.
                d = spec.args[0]
                if d is None:
                    obj = UNKNOWN
                elif d[0] == "e":
                    obj = memo.get(d[1], UNKNOWN)
                elif d[0] == "f":
                    obj = frame.f_locals.get(d[1], UNKNOWN)
                else:
                    obj = operand(d, frame, memo)
                write = op == "attr_w"
                tp = type(obj)
                if tp is not Abstract and SHAPES.get((id(tp), spec.name, write)) == "plain":
                    hold(self.keep, obj)
                    name = spec.name
                    own = ((Loc.ATTR, id(obj), name), write)
                    if write:
                        return Access("write", (own,), obj, name, "attr")
                    acc = Access("read", plain_read_locs(obj, tp, name, own), obj, name, "attr")
                    if now and spec.produce:
                        # The value read, from the object just found (not looked up again).
                        try:
                            v = attr_value(obj, name)
                        except Exception:  # noqa: BLE001
                            v = UNKNOWN
                        memo[offset] = v
                        if type(v) not in FAST_IMM and type(v) is not Abstract:
                            hold(self.keep, v)
                        acc.value = v
                    return acc
                acc = attr_access(obj, spec.name, write)
            elif op == "binary" or op == "unary":
                imm = FAST_IMM
                ok = True
                for d in spec.args:
                    v = memo.get(d[1], UNKNOWN) if d is not None and d[0] == "e" else operand(d, frame, memo)
                    if type(v) not in imm and v is not IMM and (v is not FRESH or d is not None and d[0] == "e"
                                                                and spec.name in COMPARING):
                        ok = False
                        break
                if ok:
                    if now and spec.produce:
                        self._produce(spec, frame, memo)
                    return NONE_ACCESS
                acc = evaluate_spec(spec, frame, memo)
            else:
                acc = evaluate_spec(spec, frame, memo)
        except Exception:  # noqa: BLE001 - an evaluation failure must cost precision only
            acc = unknown("evaluation error")
            if now and spec.produce:
                self._produce(spec, frame, memo)
            return acc
        if ALIASES:
            acc = dealias(acc)
        if acc.obj is not None:
            hold(self.keep, acc.obj)
        if now and spec.produce:
            v = self._produce(spec, frame, memo)
            if (acc.kind == "read" or acc.kind == "sync") and acc is not spec.const:
                acc.value = v
        return acc

    def pick_pending(self, frame: FrameType, code: CodeType, offset: int) -> Tuple[Access, Optional[Spec]]:
        """``pick``, and the Spec to pass to :meth:`produced` when the instruction runs, or None
        when no later instruction reads what it produces (then nothing is left to do when it runs).

        For a caller that keeps the pending instruction: its run then skips ``executing``'s second
        lookup of the code's analysis, and needs no call at all for most instructions.
        """
        acc = self.pick(frame, code, offset)
        spec = self.spec
        return acc, (spec if spec is not None and spec.produce else None)

    def produced(self, frame: FrameType, spec: Spec, acc: Access) -> Any:
        """``executing`` for a Spec :meth:`pick_pending` gave: the instruction runs now."""
        memo = self.memos.get(frame)
        if memo is None:
            memo = self.memos[frame] = {}
        v = self._produce(spec, frame, memo)
        if (acc.kind == "read" or acc.kind == "sync") and acc is not spec.const:
            acc.value = v
        return v

    def executing(self, frame: FrameType, code: CodeType, offset: int, acc: Access) -> Any:
        """The instruction runs now: remember (and return) the value it produces, if read later."""
        hit = BY_ID.get(id(code))
        if hit is None:
            return UNKNOWN
        spec = hit[1].get(offset)
        if spec is None or not spec.produce:
            return UNKNOWN
        return self.produced(frame, spec, acc)

    def _produce(self, spec: Spec, frame: FrameType, memo: Dict[int, Any]) -> Any:
        op = spec.op
        try:
            if op == "attr_r":
                d = spec.args[0]
                obj = memo.get(d[1], UNKNOWN) if d is not None and d[0] == "e" else operand(d, frame, memo)
                name = spec.name
                v = attr_value(obj, name)
                if name == "__dict__":
                    note_instance_dict(obj)  # as in ``produce_only``
                if v is UNKNOWN and type(obj) in LOCAL_TYPES:
                    v = self._local_value(frame, spec.offset, obj, spec.name, LOCAL_TYPES[type(obj)])
            elif op == "global_r":
                v = frame.f_globals.get(spec.name, MISSING)
                if v is MISSING:
                    v = frame.f_builtins.get(spec.name, UNKNOWN)
            elif op == "cell_r":
                v = frame.f_locals.get(spec.name, UNKNOWN)
            else:
                v = produced_value(spec, frame, memo, NONE_ACCESS)
        except Exception:  # noqa: BLE001
            v = UNKNOWN
        memo[spec.offset] = v
        if type(v) not in FAST_IMM and type(v) is not Abstract:
            hold(self.keep, v)
        return v

    def _local_value(self, frame: FrameType, offset: int, obj: Any, name: str, init_free: bool) -> Any:
        """What ``obj.name`` loads, ``obj`` a ``threading.local``: the slot of the thread running
        ``frame``, readable only from that thread, else read when ``frame`` goes on (then the
        load has run). With an ``__init__`` of its own, a thread's first access runs it: read
        only afterwards, and only if the load cannot fail into a handler of the same frame (an
        ``__init__`` that raised leaves no dict, and reading would run it again). Not in a
        generator frame: another thread may resume it before its next point."""
        if init_free and _on_stack(frame):
            return local_slot_value(obj, name)
        code = frame.f_code
        if (init_free or not may_catch(code, offset)) and not code.co_flags & SUSPENDABLE:
            self.local_loads.setdefault(frame, []).append((offset, obj, name))
        return UNKNOWN

    def _resolve(self, frame: FrameType) -> None:
        """``frame`` goes on (in its own thread): read the thread-local loads it ran meanwhile, and
        those of its callers whose load has finished (``loc.method()``: the method runs before
        its caller's next point, and its points carry the caller's call, whose callee is that
        load's value)."""
        local_loads = self.local_loads
        f: Optional[FrameType] = frame
        on_stack = None
        while f is not None and local_loads:
            loads = local_loads.get(f)
            if loads is not None:
                if on_stack is None:
                    on_stack = _on_stack(frame)
                    if not on_stack:
                        return
                memo = self.memos.get(f)
                if f is frame:
                    left = None
                else:
                    # A caller's load runs until the caller's instruction moves past it: a
                    # first access that runs the class's ``__init__`` is still in progress.
                    here = instruction_at(f.f_code, f.f_lasti)
                    left = [x for x in loads if x[0] >= here]
                    loads = [x for x in loads if x[0] < here]
                if left:
                    local_loads[f] = left
                else:
                    del local_loads[f]
                if memo is not None:
                    for offset, obj, name in loads:
                        if memo.get(offset) is UNKNOWN:
                            v = memo[offset] = local_slot_value(obj, name)
                            if type(v) not in FAST_IMM:
                                hold(self.keep, v)
            f = f.f_back

    def produce_only(self, frame: FrameType, code: CodeType, offset: int) -> None:
        """The instruction runs now and its access is already known: keep what it produces."""
        hit = BY_ID.get(id(code))
        if hit is None:
            hit = specs_of(code)
        if SNAPSHOT and offset in hit[3]:
            frame.f_locals  # noqa: B018 - as in ``pick``
        spec = hit[1].get(offset)
        if spec is None or not spec.produce:
            if spec is not None and spec.name == "__dict__" and spec.op == "attr_r":
                # Taken while one thread runs (no access computed), used later by others.
                note_instance_dict(operand(spec.args[0], frame, self.memos.get(frame, {})))
            return
        memo = self.memos.get(frame)
        if memo is None:
            memo = self.memos[frame] = {}
        self._produce(spec, frame, memo)

