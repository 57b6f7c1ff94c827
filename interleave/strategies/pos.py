"""Partial Order Sampling (Yuan, Yang and Gu, CAV 2018)."""

from __future__ import annotations

import dis
import random
import weakref
from types import CodeType
from typing import Any, Dict, Hashable, List, Optional, Tuple

from .base import Strategy

_NAMED = ("ATTR", "GLOBAL", "NAME", "DEREF", "METHOD", "SUPER_ATTR")
_SUBSCRIPT = ("SUBSCR", "SLICE")


class POSStrategy(Strategy):
    """Every pending operation holds a random priority; the highest runs next.

    After an operation runs, the thread's next operation and every pending operation that
    races with the one that ran draw fresh priorities. Unlike a uniform walk this gives
    each partial order of racing operations a fair chance, without favouring long runs of
    one thread or frequent switching. Operations race when they use the same
    synchronisation object, or touch an attribute, global or cell of the same name (a
    name-level over-approximation of "same location"; it only adds re-draws).
    """

    name = "pos"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.view: Any = None
        self._keys: Dict[Tuple[CodeType, int], Optional[Hashable]] = {}

    def bind(self, view: Any) -> None:
        self.view = view

    def new_execution(self) -> bool:
        self.prio: Dict[int, float] = {}
        self.running: Optional[int] = None
        self.running_key: Optional[Hashable] = None
        return True

    def _key(self, tid: int) -> Optional[Hashable]:
        pending = self.view.pending(tid) if self.view is not None else None
        if pending is None:
            return None
        code, offset, op = pending.code, pending.offset, pending.op
        if code is None:
            target = op.target if op is not None else None
            return ("sync", id(target)) if target is not None else None
        return instruction_key(self._keys, code, offset)

    def choose(self, runnable: List[int], current: int, used: int) -> Tuple[int, int]:
        rng = self.rng
        prio = self.prio
        if self.running is not None:
            ran = self.running_key
            prio[self.running] = rng.random()  # its next operation is a new event
            if ran is not None:
                for t in runnable:
                    if t != self.running and self._key(t) == ran:
                        prio[t] = rng.random()
        for t in runnable:
            if t not in prio:
                prio[t] = rng.random()
        best = max(runnable, key=prio.__getitem__)
        self.running = best
        self.running_key = self._key(best)
        return best, 1


# Per code object, the key of every instruction: one disassembly per code object instead of one
# per switch point met, shared by every strategy and exploration (the keys depend on the code
# only). Weak keys: a code object that goes away takes its table with it.
_TABLES: weakref.WeakKeyDictionary[CodeType, Dict[int, Optional[Hashable]]] = weakref.WeakKeyDictionary()


_UNSEEN = object()


def instruction_key(cache: Dict[Tuple[CodeType, int], Optional[Hashable]], code: CodeType,
                    offset: int) -> Optional[Hashable]:
    """``_location_key`` through a strategy's own cache (a plain dict: faster than the weak table)."""
    k = (code, offset)
    key = cache.get(k, _UNSEEN)
    if key is _UNSEEN:
        key = cache[k] = _location_key(code, offset)
    return key  # type: ignore[return-value]


def _location_key(code: CodeType, offset: int) -> Optional[Hashable]:
    """The location an instruction touches, by name: ``("name", attr)``, ``("subscript",)`` or None."""
    table = _TABLES.get(code)
    if table is None:
        table = {}
        for ins in dis.get_instructions(code):
            name = ins.opname
            if any(part in name for part in _NAMED) and isinstance(ins.argval, str):
                table[ins.offset] = ("name", ins.argval)
            elif any(part in name for part in _SUBSCRIPT):
                table[ins.offset] = ("subscript",)
        _TABLES[code] = table
    return table.get(offset)
