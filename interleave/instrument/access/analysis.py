"""Static analysis of a code object: the fixpoint of the stack model, cached per code object.

The result (:class:`CodeInfo`) has a :class:`~.stack.Spec` per visible offset; an analysis
that fails costs precision (every visible instruction touches everything), never soundness.
"""

from __future__ import annotations

import dis
from types import CodeType
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ...versions import PY
from ..opcodes import visible_offsets
from .stack import NO_SHARED_STATE, Spec, StackModel
from .vocabulary import ByObject


class CodeInfo:
    """The analysis of one code object: a Spec per visible offset, and what each return returns."""

    __slots__ = ("specs", "ok", "returns")

    def __init__(self, specs: Dict[int, Spec], ok: bool, returns: Optional[Dict[int, Any]] = None) -> None:
        self.specs = specs
        self.ok = ok
        # offset of a RETURN_VALUE/RETURN_CONST -> the descriptor of the value it returns
        self.returns: Dict[int, Any] = returns or {}


# Keyed by ``(id(code), model)``: hashing a code object hashes its constants every time, and a
# key holding the code would keep every ``exec``'d or per-execution code object alive.
_INFO = ByObject()
# The instruction model's analyses by ``id(code)``, for the per-switch-point path.
BY_ID = ByObject()


SUSPENDABLE = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR


def specs_of(code: CodeType) -> Tuple[bool, Dict[int, Spec], bool, FrozenSet[int]]:
    """(is it a generator or coroutine, its Specs by offset, did the analysis succeed, its
    :func:`drop_points`), cached by id."""
    hit = BY_ID.get(id(code))
    if hit is None:
        info = analyze(code, "instruction")
        hit = (bool(code.co_flags & SUSPENDABLE), info.specs, info.ok, drop_points(code, info.specs))
        BY_ID.put(code, id(code), hit)
    return hit


def drop_points(code: CodeType, points: Dict[int, Any]) -> FrozenSet[int]:
    """The switch points (offsets in ``points``) that come first, in the code's order, after an
    instruction that drops a local's value (``del x``, ``x = None``).

    Where ``frame.f_locals`` is a snapshot kept on the frame (3.10-3.12), it still holds a value
    the program dropped once the tracker has read it: reading it again at such a point
    refreshes it, so that the value dies before the thread touches anything shared again.
    """
    out = set()
    dropped = False
    prev = None
    for ins in dis.get_instructions(code):
        if ins.opname == "DELETE_FAST" or (ins.opname == "STORE_FAST" and prev is not None
                                           and prev.opname == "LOAD_CONST" and prev.argval is None):
            dropped = True
        elif dropped and ins.offset in points:
            out.add(ins.offset)
            dropped = False
        prev = ins
    return frozenset(out)


# id(code) -> its instructions' start offsets, sorted (to find the instruction a frame is in)
_STARTS: Dict[int, Tuple[CodeType, List[int]]] = {}
def instruction_at(code: CodeType, lasti: int) -> int:
    """The start of the instruction that offset ``lasti`` lies in: a caller that made a Python
    call inline (3.12+) may stand on one of the instruction's cache entries."""
    hit = _STARTS.get(id(code))
    if hit is None or hit[0] is not code:
        hit = _STARTS[id(code)] = (code, [i.offset for i in dis.get_instructions(code)])
    starts = hit[1]
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= lasti:
            lo = mid + 1
        else:
            hi = mid
    return starts[lo - 1] if lo else lasti


# id(code) -> the offset ranges that an exception handler of the code covers (3.10: the whole
# code if it sets up any handler).
_GUARDED = ByObject()
_SETUPS = frozenset(("SETUP_FINALLY", "SETUP_WITH", "SETUP_ASYNC_WITH", "SETUP_EXCEPT"))


def may_catch(code: CodeType, offset: int) -> bool:
    """Whether an exception raised by the instruction at ``offset`` may be caught in the same frame."""
    ranges = _GUARDED.get(id(code))
    if ranges is None:
        parse = getattr(dis, "_parse_exception_table", None)
        if PY >= (3, 11) and parse is not None:
            ranges = tuple((e.start, e.end) for e in parse(code))
        elif any(i.opname in _SETUPS for i in dis.get_instructions(code)):
            ranges = ((0, 1 << 62),)
        else:
            ranges = ()
        _GUARDED.put(code, id(code), ranges)
    return any(a <= offset < b for a, b in ranges)


def analyze(code: CodeType, model: str = "instruction") -> CodeInfo:
    """The cached analysis of ``code``: for each visible offset, what its instruction touches."""
    key = (id(code), model)
    info = _INFO.get(key)
    if info is None:
        try:
            info = _Analyzer(code, model).run()
        except Exception:  # noqa: BLE001 - an analysis bug must cost precision, never soundness
            info = CodeInfo({}, False)
        _INFO.put(code, key, info)
    return info


def _merge(a: Optional[list], b: list) -> list:
    if a is None:
        return list(b)
    if len(a) != len(b):
        raise ValueError("stack depths disagree")
    changed = False
    out = a
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y and x is not None:
            if not changed:
                out = list(a)
                changed = True
            out[i] = None
    return out


def _descs(spec: Spec) -> tuple:
    return spec.args


class _Analyzer(StackModel):
    """The fixpoint over the code's control flow (with exception handlers) of the stack model."""

    def __init__(self, code: CodeType, model: str) -> None:
        self.code = code
        self.instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
        self.index = {ins.offset: k for k, ins in enumerate(self.instrs)}
        self.visible = visible_offsets(code, "instruction")
        self.specs: Dict[int, Spec] = {}
        self.producers: Dict[int, bool] = {}
        self.kwnames: Dict[int, tuple] = {}
        self.returns: Dict[int, Any] = {}

    def run(self) -> CodeInfo:
        instrs = self.instrs
        if not instrs:
            return CodeInfo({}, True)
        states: Dict[int, list] = {instrs[0].offset: []}
        handlers = self._exception_handlers()
        work = [instrs[0].offset]
        seen_count: Dict[int, int] = {}
        while work:
            off = work.pop()
            stack = states[off]
            k = self.index[off]
            ins = instrs[k]
            seen_count[off] = seen_count.get(off, 0) + 1
            if seen_count[off] > 50:
                raise ValueError("no fixpoint")
            outs = self._step(ins, list(stack))  # list of (target offset, stack)
            for tgt, st in outs:
                if tgt not in self.index:
                    continue
                old = states.get(tgt)
                new = _merge(old, st)
                if old is None or new != old:
                    states[tgt] = new
                    work.append(tgt)
            for (start, end, target, depth, lasti) in handlers:
                if start <= off < end:
                    base = stack[:depth] if len(stack) >= depth else [None] * depth
                    st = list(base) + ([None] if lasti else []) + [None]
                    old = states.get(target)
                    new = _merge(old, st)
                    if old is None or new != old:
                        states[target] = new
                        work.append(target)
        # A visible instruction no rule above describes touches what the harness cannot tell:
        # everything (conservative), unless it is known to touch nothing shared.
        for ins in instrs:
            if ins.offset in self.visible and ins.offset not in self.specs and ins.offset in states \
                    and ins.opname not in NO_SHARED_STATE:
                self.specs[ins.offset] = Spec("opaque", ins.offset, ins.opname)
        # Mark the producers some visible consumer reads, or a return returns (the tracker reads
        # what a function under test returned when its caller goes on).
        for spec in self.specs.values():
            for d in _descs(spec):
                if d is not None and d[0] in ("e", "x"):
                    p = self.specs.get(d[1])
                    if p is not None:
                        p.produce = True
        for d in self.returns.values():
            if d is not None and d[0] == "e":
                p = self.specs.get(d[1])
                if p is not None:
                    p.produce = True
        return CodeInfo(self.specs, True, self.returns)

    def _exception_handlers(self) -> List[Tuple[int, int, int, int, bool]]:
        if PY >= (3, 11):
            parse = getattr(dis, "_parse_exception_table", None)
            if parse is None:
                raise ValueError("no exception table parser")
            return [(e.start, e.end, e.target, e.depth, e.lasti) for e in parse(self.code)]
        return []
