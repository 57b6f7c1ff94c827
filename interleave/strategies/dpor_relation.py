"""DPOR's dependency relation: which locations may overlap, and an index to find them fast.

Two events are dependent when they access overlapping locations and at least one of them
writes (docs/dpor.md). :class:`LocationIndex` keeps, for the current execution, the latest
writer and the readers since of each location, indexed so that an access finds the locations
that overlap it without a scan over all of them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from ..instrument.access.vocabulary import DATA_KINDS, Loc

_Loc = tuple
_Accs = Tuple[Tuple[_Loc, bool], ...]
_DATA = DATA_KINDS
# Module constants: this is DPOR's innermost loop.
_ATTR, _ITEM, _ITEMS, _OBJECT = Loc.ATTR, Loc.ITEM, Loc.ITEMS, Loc.OBJECT
_SOME_ATTR, _SOME_DATA, _ALL = Loc.SOME_ATTR, Loc.SOME_DATA, Loc.ALL
_ADDRESSED = frozenset((_ATTR, _ITEM, _ITEMS))  # locations inside one object


def overlap(x: _Loc, y: _Loc) -> bool:
    """Whether two locations may name the same memory."""
    if x == y:
        return True
    kx, ky = x[0], y[0]
    if kx == _ALL or ky == _ALL:
        return True
    if kx == _SOME_DATA:
        return ky in _DATA
    if ky == _SOME_DATA:
        return kx in _DATA
    if kx == _OBJECT:
        return (ky in _ADDRESSED and y[1] == x[1]) or ky == _SOME_ATTR
    if ky == _OBJECT:
        return (kx in _ADDRESSED and x[1] == y[1]) or kx == _SOME_ATTR
    if kx == _ITEMS:
        return ky == _ITEM and y[1] == x[1]
    if ky == _ITEMS:
        return kx == _ITEM and x[1] == y[1]
    if kx == _SOME_ATTR:
        return ky == _ATTR and y[2] == x[1]
    if ky == _SOME_ATTR:
        return kx == _ATTR and x[2] == y[1]
    return False


def dependent(a: _Accs, b: _Accs) -> bool:
    """Whether two events' accesses conflict (same memory, at least one write)."""
    for la, wa in a:
        for lb, wb in b:
            if (wa or wb) and overlap(la, lb):
                return True
    return False


def observes(a: _Accs, b: _Accs) -> bool:
    """Whether one event reads what the other writes (a race whose reversal a read can see)."""
    for la, wa in a:
        for lb, wb in b:
            if wa != wb and overlap(la, lb):
                return True
    return False


class _LocState:
    __slots__ = ("w", "r")

    def __init__(self) -> None:
        self.w = -1  # latest event that wrote it
        self.r: Dict[int, int] = {}  # per thread, its latest read since that write


class LocationIndex:
    """The location table of one execution (a part of the DPOR strategy)."""

    locs: Dict[_Loc, _LocState]
    by_obj: Dict[Any, Set[_Loc]]  # object id -> exact locations of it
    by_attr: Dict[str, Set[_Loc]]  # attribute name -> exact locations
    wild_o: Set[Any]  # ids with a whole-object location
    wild_k: Set[Any]  # ids with an all-items location
    wild_a: Set[str]  # names with an any-object attribute location
    wild_any: bool  # an any-data or everything location exists

    def _reset_locations(self) -> None:
        self.locs = {}
        self.by_obj = {}
        self.by_attr = {}
        self.wild_o = set()
        self.wild_k = set()
        self.wild_a = set()
        self.wild_any = False

    def _wild_possible(self, loc: _Loc) -> bool:
        """Whether some location other than ``loc`` itself may overlap it (a cheap pre-check)."""
        k = loc[0]
        if k == _ATTR:
            return loc[1] in self.wild_o or loc[2] in self.wild_a
        if k == _ITEM:
            return loc[1] in self.wild_o or loc[1] in self.wild_k
        if k == _ITEMS:
            return loc[1] in self.wild_o or loc[1] in self.by_obj
        return k in "oAO*"

    def _register(self, loc: _Loc) -> None:
        k = loc[0]
        if k == _ATTR:
            self.by_obj.setdefault(loc[1], set()).add(loc)
            self.by_attr.setdefault(loc[2], set()).add(loc)
        elif k == _ITEM:
            self.by_obj.setdefault(loc[1], set()).add(loc)
        elif k == _ITEMS:
            self.wild_k.add(loc[1])
        elif k == _OBJECT:
            self.wild_o.add(loc[1])
        elif k == _SOME_ATTR:
            self.wild_a.add(loc[1])
        elif k == _SOME_DATA or k == _ALL:
            self.wild_any = True

    def _states_overlapping(self, loc: _Loc) -> List[_LocState]:
        """States of the other locations that overlap ``loc``."""
        locs = self.locs
        k = loc[0]
        if k == _ALL:
            return [s for l2, s in locs.items() if l2 != loc]
        if k == _SOME_DATA:
            return [s for l2, s in locs.items() if l2 != loc and (l2[0] in _DATA or l2[0] == _ALL)]
        cands: List[_Loc] = [(_ALL,)]
        if k in _DATA:
            cands.append((_SOME_DATA,))
        if k == _ATTR:
            cands += [(_OBJECT, loc[1]), (_SOME_ATTR, loc[2])]
        elif k == _ITEM:
            cands += [(_OBJECT, loc[1]), (_ITEMS, loc[1])]
        elif k == _ITEMS:
            cands.append((_OBJECT, loc[1]))
            cands += list(self.by_obj.get(loc[1], ()))
        elif k == _OBJECT:
            cands += list(self.by_obj.get(loc[1], ()))
            cands.append((_ITEMS, loc[1]))
            cands += [(_SOME_ATTR, n) for n in self.wild_a]
        elif k == _SOME_ATTR:
            cands += list(self.by_attr.get(loc[1], ()))
            cands += [(_OBJECT, i) for i in self.wild_o]
        out: List[_LocState] = []
        for c in cands:
            if c != loc:
                s = locs.get(c)
                if s is not None:
                    out.append(s)
        return out
