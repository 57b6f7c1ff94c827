"""The closure cell a running frame reaches by a variable's name: which cell it is, not what it holds."""

from __future__ import annotations

import ctypes
import gc
import types
from typing import Any, Dict, Optional

from ..versions import CURRENT

# ``PyFrameObject.f_frame``, the pointer to the interpreter's frame, follows the object header and
# ``f_back`` on 64-bit builds (3.11+).
_F_FRAME = 16 + 8
_slots: Dict[types.CodeType, Dict[str, int]] = {}
_works: Optional[bool] = None


def cell_of(frame: types.FrameType, name: str) -> Optional[types.CellType]:
    """The cell behind ``name`` (a cell or free variable) in ``frame``, or None if it cannot be
    found on this build (callers then treat every cell of that name as one)."""
    global _works
    if _works is None:
        _works = _probe()
    if not _works:
        return None
    try:
        return _read(frame, name)
    except (KeyError, ValueError):
        return None


def _read(frame: types.FrameType, name: str) -> Optional[types.CellType]:
    code = frame.f_code
    offset = CURRENT.localsplus_offset
    if offset is None:
        # The frame's referents are its fast locals, then its cells and free variables, in order.
        cells = [r for r in gc.get_referents(frame) if type(r) is types.CellType]
        names = code.co_cellvars + code.co_freevars
        return cells[names.index(name)] if len(cells) == len(names) else None
    slots = _slots.get(code)
    if slots is None:
        slots = _slots[code] = _cell_slots(code)
    base = ctypes.c_void_p.from_address(id(frame) + _F_FRAME).value
    if not base:
        return None
    addr = ctypes.c_void_p.from_address(base + offset + 8 * slots[name]).value
    if not addr:
        return None
    cell: Any = ctypes.cast(addr, ctypes.py_object).value
    return cell if type(cell) is types.CellType else None


def _cell_slots(code: types.CodeType) -> Dict[str, int]:
    """Where each cell and free variable of ``code`` sits among the frame's locals (3.11+)."""
    wanted = set(code.co_cellvars) | set(code.co_freevars)
    n = len(code.co_varnames) + len(set(code.co_cellvars) - set(code.co_varnames)) + len(code.co_freevars)
    by_name = {code._varname_from_oparg(i): i for i in range(n)}  # type: ignore[attr-defined]
    return {k: i for k, i in by_name.items() if k in wanted}


def _probe() -> bool:
    """Whether this build lays frames out as the version table says: a suspended generator's
    frame must show the very cell its closure holds, both where it is made and where it is used."""

    def outer() -> Any:
        before = 1  # a plain local first, so that the cell is not in slot 0
        shared = before

        def inner() -> Any:
            yield shared

        yield inner

    try:
        made = outer()
        inner = next(made)
        used = inner()
        next(used)
        cell = inner.__closure__[0]
        return _read(made.gi_frame, "shared") is cell and _read(used.gi_frame, "shared") is cell
    except Exception:  # noqa: BLE001 - an unexpected layout: fall back to names
        return False
