"""Where a thread stands in its code: the line of an instruction, the frame running a code object, its switch point."""

from __future__ import annotations

from types import CodeType, FrameType
from typing import Optional

from .operation import Op, SwitchPoint
from .vthread import VThread


def line_of(code: CodeType, offset: int) -> int:
    """The source line of the instruction at ``offset`` (the function's first line if unknown)."""
    line = code.co_firstlineno
    for start, _end, ln in code.co_lines():
        if start > offset:
            break
        if ln is not None:
            line = ln
    return line


def frame_running(code: CodeType, f: Optional[FrameType]) -> Optional[FrameType]:
    """The innermost frame from ``f`` outwards that runs ``code``: the back-end's caller.

    A back-end's callback is called from the frame it reports on, directly (``sys.monitoring``)
    or through a tracer or two (``sys.settrace``'s solo wrapper): a short walk finds it.
    """
    while f is not None and f.f_code is not code:
        f = f.f_back
    return f


def stand_at(vt: VThread, code: Optional[CodeType], offset: int, op: Optional[Op],
             frame: Optional[FrameType]) -> SwitchPoint:
    """``vt``'s switch point, updated in place (one per thread: a point costs no allocation)."""
    here = vt.pending
    if here is None:
        here = vt.pending = SwitchPoint(code, offset, op, frame)
        return here
    here.code = code
    here.offset = offset
    here.op = op
    here.frame = frame
    here.resumes = False
    return here
