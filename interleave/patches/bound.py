"""Swap the references to real clocks, lock constructors and thread functions bound before the run."""

from __future__ import annotations

import functools
import sys
import types
import weakref
from typing import Any, Dict, List, Tuple

from ..instrument.patching import Patcher
from .table import _REAL_TO_VIRTUAL, _harness_module, _virtual_of


def swap_bound_names(p: Patcher) -> int:
    """Swap every reference to a real clock, lock constructor or thread function bound before the run.

    ``from threading import Lock``, ``from time import monotonic``, ``now = time.monotonic`` at
    module level, ``def __init__(self, timer=time.monotonic)`` and an object that stored such a
    function all hold the real callable: patching the modules does not reach them. The holders
    are found with one ``gc.get_referrers`` pass over the real callables (a few milliseconds,
    whatever the number of modules), and their owners (the function of a defaults tuple, the
    class or object of a ``__dict__``) with a second; every swap is undone by the patcher.
    Returns how many references were swapped.
    """
    import gc

    reals = [real for real, _ in _REAL_TO_VIRTUAL.values()]
    modules: Dict[int, types.ModuleType] = {}
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        if isinstance(mod, types.ModuleType) and isinstance(d, dict):
            modules[id(d)] = mod
    table = _REAL_TO_VIRTUAL
    swapped = 0
    pending: List[Any] = []  # defaults tuples, class and instance dicts, cells: owners looked up below
    for holder in gc.get_referrers(*reals):
        if isinstance(holder, dict):
            owner_mod = modules.get(id(holder))
            if owner_mod is None:
                pending.append(holder)
            elif not _harness_module(owner_mod.__name__):
                for key, value in list(holder.items()):
                    pair = table.get(id(value))
                    if pair is not None and pair[0] is value and isinstance(key, str):
                        p.setattr(owner_mod, key, pair[1])
                        swapped += 1
        elif isinstance(holder, tuple) or type(holder).__name__ == "cell":
            pending.append(holder)
        elif not isinstance(holder, (list, types.FrameType)) and not _harness_module(type(holder).__module__):
            # An object whose attributes live inline (3.12+: no dict until asked for) refers to them itself.
            d = getattr(holder, "__dict__", None)
            if isinstance(d, dict):
                for key, value in list(d.items()):
                    if _virtual_of(value) is not value:
                        p.setitem(d, key, _virtual_of(value))
                        swapped += 1
    if not pending:
        return swapped
    wanted = {id(x) for x in pending}
    owners: List[Any] = []
    unknown = []
    for holder in pending:
        owner = _known_owner(holder)
        if owner is None:
            unknown.append(holder)
        else:
            owners.append(owner)
    if unknown:
        # A second pass over the heap, only for holders not seen before (new functions, objects).
        found = gc.get_referrers(*unknown)
        for owner in found:
            _remember_owner(owner, unknown)
        owners += found
    for owner in owners:
        if isinstance(owner, types.FunctionType):
            if _harness_module(owner.__module__):
                continue
            defaults = owner.__defaults__
            if defaults is not None and id(defaults) in wanted:
                new = tuple(_virtual_of(v) for v in defaults)
                if any(a is not b for a, b in zip(new, defaults)):
                    _set_defaults(p, owner, new)
                    swapped += 1
            kw = owner.__kwdefaults__
            if kw is not None and id(kw) in wanted:
                for key, value in list(kw.items()):
                    if _virtual_of(value) is not value:
                        p.setitem(kw, key, _virtual_of(value))
                        swapped += 1
            for cell in owner.__closure__ or ():
                if id(cell) in wanted:
                    try:
                        value = cell.cell_contents
                    except ValueError:
                        continue
                    if _virtual_of(value) is not value:
                        p.setcell(cell, _virtual_of(value))
                        swapped += 1
                        wanted.discard(id(cell))  # a cell shared by several functions: once
        elif isinstance(owner, type):
            if _harness_module(owner.__module__):
                continue
            for key, value in list(owner.__dict__.items()):
                if _virtual_of(value) is not value:
                    p.setattr(owner, key, _virtual_of(value))
                    swapped += 1
        else:
            d = getattr(owner, "__dict__", None)
            if (isinstance(d, dict) and id(d) in wanted and not isinstance(owner, types.ModuleType)
                    and not _harness_module(type(owner).__module__)):
                for key, value in list(d.items()):
                    if _virtual_of(value) is not value:
                        p.setitem(d, key, _virtual_of(value))
                        swapped += 1
    return swapped


# Which function, class or object holds a defaults tuple, closure cell or __dict__ found holding
# a real callable: looked up with a full heap pass, so remembered across explorations. Entries are
# weak (nothing is kept alive) and every answer is checked against the owner before it is used
# (``_holds``), so a stale or reused entry can only cost the heap pass, never a wrong answer.
_OWNERS: Dict[int, Any] = {}


def _holds(owner: Any, holder: Any) -> bool:
    if isinstance(owner, types.FunctionType):
        return (owner.__defaults__ is holder or owner.__kwdefaults__ is holder
                or any(c is holder for c in owner.__closure__ or ()))
    return getattr(owner, "__dict__", None) is holder if not isinstance(owner, type) \
        else owner.__dict__ == holder and holder is _class_dict(owner)


def _class_dict(cls: type) -> Any:
    import gc

    refs = [r for r in gc.get_referents(cls) if isinstance(r, dict)]
    return refs[0] if refs else None


def _forget_owner(key: int, _ref: Any) -> None:
    _OWNERS.pop(key, None)


def _known_owner(holder: Any) -> Any:
    ref = _OWNERS.get(id(holder))
    owner = ref() if ref is not None else None
    if owner is not None and _holds(owner, holder):
        return owner
    _OWNERS.pop(id(holder), None)
    return None


def _remember_owner(owner: Any, holders: List[Any]) -> None:
    if not isinstance(owner, (types.FunctionType, type)) and not hasattr(owner, "__dict__"):
        return
    for holder in holders:
        try:
            if _holds(owner, holder):
                _OWNERS[id(holder)] = weakref.ref(owner, functools.partial(_forget_owner, id(holder)))
        except TypeError:  # no weak references to this kind of object: looked up again next time
            pass


def _set_defaults(p: Patcher, fn: types.FunctionType, new: Tuple[Any, ...]) -> None:
    old = fn.__defaults__
    fn.__defaults__ = new

    def undo() -> None:
        fn.__defaults__ = old

    p.add_undo(undo)

