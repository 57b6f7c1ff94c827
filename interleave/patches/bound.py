"""Swap the references to real clocks, lock constructors and thread functions bound before the run."""

from __future__ import annotations

import functools
import gc
import sys
import types
import weakref
from itertools import compress
from typing import Any, Dict, List, Optional, Set, Tuple

from ..instrument.patching import Patcher
from ..sync.vdatetime import REAL_DATETIME, captured_clocks
from .kinds import namespace, own_dict
from .table import _REAL_TO_VIRTUAL, _harness_module, _virtual_of, add_asyncio, add_captured_clocks

# The real callables, in one fixed order (the index of each is its slot in the counts below).
_REALS: Tuple[Any, ...] = tuple(real for real, _ in _REAL_TO_VIRTUAL.values())
_INDEX: Dict[int, int] = {id(real): i for i, real in enumerate(_REALS)}
# An immortal object's reference count says nothing about who refers to it: every exploration
# then searches the heap (no supported CPython makes these callables immortal today).
_COUNTABLE = all(sys.getrefcount(real) < 1 << 28 for real in _REALS)


def swap_bound_names(p: Patcher) -> int:
    """Swap every reference to a real clock, lock constructor or thread function bound before the run.

    ``from threading import Lock``, ``from time import monotonic``, ``now = time.monotonic`` at
    module level, ``def __init__(self, timer=time.monotonic)`` and an object that stored such a
    function all hold the real callable: patching the modules does not reach them. Their owners
    (a module, a class, a function's defaults or closure, an object's ``__dict__``) are found
    with ``gc.get_referrers`` over the heap (a few milliseconds) and remembered, weakly, across
    explorations. A later exploration searches the heap again only when something may hold one
    that no remembered owner accounts for:
    - an object the collector started tracking since the last exploration (a module imported,
      an object, function, closure or defaults tuple created) refers to a real callable; those
      objects are found in the collector's young generations, behind a sentinel, unless a
      collection of an older generation moved them out of sight (then the heap is searched);
    - a real function's reference count minus what the remembered owners hold went up: a
      container that existed before was given one (a lazily set global, a monkeypatched
      attribute).
    Every swap is undone by the patcher; the caller marks the run over (``mark_run_over``) when the
    exploration ends. Returns how many references were swapped.

    What this cannot see: a container that existed before given a real function in the same
    interval between two explorations as another reference to it was dropped outside the
    remembered owners (a list, a local of a returned frame), or given a real type (their counts
    rise and fall with their instances).
    """
    state = _STATE
    if add_asyncio():
        _index_reals()
        state.other = None  # a longer table: the heap is searched for the new ones
    counts = [sys.getrefcount(real) for real in _REALS]
    owners = state.live_owners()
    held = _held_counts(owners)
    other = [c - h for c, h in zip(counts, held)]
    if state.other is None or state.uncertain or not _COUNTABLE:
        search = True
    else:
        # The types' counts rise and fall with their instances: only the functions' say something.
        search = (any(o > b for i, (o, b) in enumerate(zip(other, state.other)) if i not in _TYPE_SLOTS)
                  or not state.young_in_sight() or _young_holder(p, owners))
    if search:
        # Bound ``datetime.now`` methods kept since the last search join the real callables first.
        if add_captured_clocks(captured_clocks(gc.get_referrers(REAL_DATETIME))):
            _index_reals()
            counts = [sys.getrefcount(real) for real in _REALS]
        owners = _search_heap(p)
        held = _held_counts(owners)
        other = [c - h for c, h in zip(counts, held)]
        state.remember(owners)
    state.other = other
    swapped = 0
    for owner in owners:
        swapped += _swap_owner(p, owner)
    return swapped


def mark_run_over() -> None:
    """Mark where the objects created after this exploration start: the next one looks among those only.

    What the exploration made and kept (its session, results, the collector's moves between
    executions, the patcher's records of the swaps) was made under its patches, holding no real
    callable that the reference counts would not show, and is no new holder to look through again.
    The session calls this when it closes, whatever happened, after every ``swap_bound_names``.
    """
    _STATE.mark_young()


# The real types (a lock, an RLock, a SimpleQueue): each of their instances refers to them.
_TYPE_SLOTS = frozenset(i for i, real in enumerate(_REALS) if isinstance(real, type))
_TYPES = tuple(_REALS[i] for i in sorted(_TYPE_SLOTS))
# What a young object must be to matter: a place the swap reaches (a dict, a defaults tuple, a
# closure cell, an object keeping its attributes inline). A list, set, function (its defaults
# and cells are objects of their own) or bound method never is; an instance refers to its type.
_PLACELESS = frozenset({list, set, frozenset, types.FunctionType, types.MethodType, types.FrameType, weakref.ref})
_NOT_PLACES = frozenset(_TYPES) | _PLACELESS
_REAL_IDS = frozenset(_INDEX)


def _index_reals() -> None:
    """Everything above derived from the table again, after it grew."""
    global _REALS, _INDEX, _COUNTABLE, _TYPE_SLOTS, _TYPES, _NOT_PLACES, _REAL_IDS
    _REALS = tuple(real for real, _ in _REAL_TO_VIRTUAL.values())
    _INDEX = {id(real): i for i, real in enumerate(_REALS)}
    _COUNTABLE = all(sys.getrefcount(real) < 1 << 28 for real in _REALS)
    _TYPE_SLOTS = frozenset(i for i, real in enumerate(_REALS) if isinstance(real, type))
    _TYPES = tuple(_REALS[i] for i in sorted(_TYPE_SLOTS))
    _NOT_PLACES = frozenset(_TYPES) | _PLACELESS
    _REAL_IDS = frozenset(_INDEX)


def _young_holder(p: Patcher, owners: List[Any]) -> bool:
    """Whether an object created since the last exploration refers to a real callable (instances to their type aside).

    Those objects are the ones the collector tracked after ``_STATE.sentinel``: behind it in the
    youngest generation or, after a collection of that one, behind it in the next (survivors
    are appended in order). Not finding it means they are out of sight: a holder is assumed.
    The remembered owners' places and the patcher's records of this run are not holders to find.
    """
    new = _created_since(_STATE.sentinel)
    if new is None:
        return True
    known = {id(owner) for owner in owners}
    for owner in owners:
        if issubclass(type(owner), types.FunctionType):
            known.update(map(id, (owner.__defaults__, owner.__kwdefaults__, *(owner.__closure__ or ()))))
        elif not issubclass(type(owner), type):
            known.add(id(own_dict(owner)))
    known.update(id(cell) for undo in getattr(p, "_undo", ()) for cell in getattr(undo, "__closure__", None) or ())
    candidates = [o for o in new if type(o) not in _NOT_PLACES and id(o) not in known]
    del new
    if any(id(m) not in _REAL_IDS for m in captured_clocks(candidates)):
        return True  # a bound ``datetime.now`` kept since: the search adds it to the table
    if _REAL_IDS.isdisjoint(map(id, gc.get_referents(*candidates))):
        return False
    # A dict is a place for its values only: a real type as a key (a cache of the harness keyed by
    # class, tracked anew by the collector once it holds one again) is nothing the swap changes.
    others = [o for o in candidates if type(o) is not dict]
    return (any(not _REAL_IDS.isdisjoint(map(id, o.values())) for o in candidates if type(o) is dict)
            or not _REAL_IDS.isdisjoint(map(id, gc.get_referents(*others))))


def _created_since(sentinel: Any) -> Optional[List[Any]]:
    """The objects the collector started tracking after ``sentinel``, or None if it is not where it should be.

    A collection appends what survives to the next generation, in order: the sentinel is in the
    youngest generation unless that one was collected since, then in the next, or, after a
    collection of that one too, at the end of the oldest (a longer list to make, but far cheaper
    than searching the heap). It is looked for from the end, where it stands but for what was
    created since; what follows it there and the younger generations are what was created since.
    """
    stats = gc.get_stats()
    if _STATE.collections is None or stats[1]["collections"] != _STATE.collections[0]:
        generations: Tuple[int, ...] = (2, 1, 0)  # a collection of the middle one (the youngest with it)
    elif stats[0]["collections"] != _STATE.youngest_collections:
        generations = (1, 0)
    else:
        generations = (0,)
    # Youngest first: a list of ours made before a generation is listed would be listed in it,
    # and then hold itself (and everything made since) until a collection.
    youngest = gc.get_objects(0)
    middle = gc.get_objects(1) if 1 in generations else []
    oldest = gc.get_objects(2) if 2 in generations else []
    listed = (youngest, middle, oldest)
    first = listed[generations[0]]
    at = _last_index(first, sentinel)
    if at < 0:
        return None
    found = first[at + 1:]
    for generation in generations[1:]:
        found += listed[generation]
    return found


def _last_index(objects: List[Any], target: Any) -> int:
    for i in range(len(objects) - 1, -1, -1):
        if objects[i] is target:
            return i
    return -1


class _Survey:
    """What the last heap search found: its owners (weakly) and the references nobody accounts for."""

    def __init__(self) -> None:
        self.owners: List[Any] = []  # weak references to the owners found
        self.other: Optional[List[int]] = None  # per real: its references outside those owners
        self.uncertain = False  # an owner that cannot be referred to weakly: search again next time
        self.collections: Optional[Tuple[int, int, int]] = None  # older generations' collections, freezes
        self._box: List[Any] = [[]]  # holds the sentinel (see ``young_in_sight``)
        self._box_old = False
        self.youngest_collections = -1

    def mark_young(self) -> None:
        """Remember the collector's state, and mark where the objects created from now on will start."""
        self.collections = _collections()
        self.youngest_collections = gc.get_stats()[0]["collections"]
        self._box[0] = []  # a list is tracked from its creation: it marks the position

    @property
    def sentinel(self) -> List[Any]:
        """The marker of where the objects created since ``mark_young`` start."""
        return self._box[0]  # type: ignore[no-any-return]

    def young_in_sight(self) -> bool:
        """Whether every object created since ``mark_young`` is behind the sentinel in the young generations.

        A collection keeps the order of what it does not free, except that an object only the
        collected generations refer to may be moved to the end: the sentinel's only referrer,
        its box, must be in the oldest generation first (once there, it stays).
        """
        if not self._box_old:
            box = self._box
            self._box_old = not any(o is box for gen in (0, 1) for o in gc.get_objects(gen))
            if not self._box_old:
                return False
        # A collection of the oldest generation may reorder it (everything in it is collected,
        # the box too), and a freeze moves everything out of sight: those need the heap searched.
        return self.collections is not None and self.collections[1:] == _collections()[1:]

    def remember(self, owners: List[Any]) -> None:
        self.owners = []
        self.uncertain = False
        for owner in owners:
            try:
                self.owners.append(weakref.ref(owner))
            except TypeError:
                self.uncertain = True

    def live_owners(self) -> List[Any]:
        """The remembered owners still alive (a module only while it is imported)."""
        alive = [ref() for ref in self.owners]
        return [owner for owner in alive if owner is not None
                and (not issubclass(type(owner), types.ModuleType) or sys.modules.get(owner.__name__) is owner)]


_STATE = _Survey()


def _collections() -> Tuple[int, int, int]:
    stats = gc.get_stats()
    return stats[1]["collections"], stats[2]["collections"], gc.get_freeze_count()


def _places_of(owner: Any) -> List[Tuple[int, Any]]:
    """Where ``owner`` keeps what is swapped, as (identity of the container, its values)."""
    if issubclass(type(owner), types.FunctionType):
        places: List[Tuple[int, Any]] = []
        for container in (owner.__defaults__, owner.__kwdefaults__):
            if container is not None:
                places.append((id(container), list(container.values()) if isinstance(container, dict) else container))
        for cell in owner.__closure__ or ():
            try:
                places.append((id(cell), (cell.cell_contents,)))
            except ValueError:
                pass
        return places
    d = namespace(owner)
    if d is None:
        return []
    # A class's __dict__ is a new proxy each time: the class stands for it.
    return [(id(owner) if issubclass(type(owner), type) else id(d), list(d.values()))]


def _held_counts(owners: List[Any]) -> List[int]:
    """Per real callable, how many references the owners' swappable places hold (each container once)."""
    held = [0] * len(_REALS)
    seen: Set[int] = set()
    for owner in owners:
        for key, values in _places_of(owner):
            if key in seen:
                continue  # a closure cell or defaults tuple shared by two functions
            seen.add(key)
            # Most values are not real callables: filtered without a Python-level step each.
            for value in compress(values, map(_REAL_IDS.__contains__, map(id, values))):
                i = _INDEX[id(value)]
                if _REALS[i] is value:
                    held[i] += 1
    return held


def _swap_owner(p: Patcher, owner: Any) -> int:
    """Swap the real callables ``owner`` holds for their replacements, through the patcher."""
    swapped = 0
    if issubclass(type(owner), types.FunctionType):
        defaults = owner.__defaults__
        if defaults is not None:
            new = tuple(_virtual_of(v) for v in defaults)
            if any(a is not b for a, b in zip(new, defaults)):
                _set_defaults(p, owner, new)
                swapped += 1
        kw = owner.__kwdefaults__
        if kw is not None:
            for key, value in list(kw.items()):
                if _virtual_of(value) is not value:
                    p.setitem(kw, key, _virtual_of(value))
                    swapped += 1
        for cell in owner.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if _virtual_of(value) is not value:  # a cell shared by two functions: swapped once
                p.setcell(cell, _virtual_of(value))
                swapped += 1
        return swapped
    d = namespace(owner)
    if d is None:
        return 0
    # A module's and a class's namespace are set through the object; an instance's dict directly.
    via_owner = issubclass(type(owner), (types.ModuleType, type))
    keys, values = list(d), list(d.values())  # in step: nothing runs between the two
    # Most values are not real callables: filtered without a Python-level step each.
    for key, value in compress(zip(keys, values), map(_REAL_IDS.__contains__, map(id, values))):
        if _virtual_of(value) is not value:
            if not via_owner:
                p.setitem(d, key, _virtual_of(value))
            elif isinstance(key, str):
                p.setattr(owner, key, _virtual_of(value))
            else:
                continue
            swapped += 1
    return swapped


def _search_heap(p: Patcher) -> List[Any]:
    """Every module, class, function and object that holds a real callable where it can be swapped.

    One ``gc.get_referrers`` pass over the real callables finds the holders (a few
    milliseconds, whatever the number of modules); the owners of defaults tuples, closure
    cells and ``__dict__`` dicts are looked up with a second pass, only for holders not seen
    before (``_OWNERS``). The patcher's own records of this run are left out.
    """
    modules: Dict[int, types.ModuleType] = {}
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        if isinstance(mod, types.ModuleType) and isinstance(d, dict):
            modules[id(d)] = mod
    # The undo records the patcher made before this search hold the real callables they replaced.
    ours = {id(cell) for undo in getattr(p, "_undo", ()) for cell in getattr(undo, "__closure__", None) or ()}
    found: List[Any] = []
    pending: List[Any] = []  # defaults tuples, class and instance dicts, cells: owners looked up below
    for holder in gc.get_referrers(*_REALS):
        if issubclass(type(holder), dict):
            owner_mod = modules.get(id(holder))
            if owner_mod is None:
                pending.append(holder)
            elif not _harness_module(owner_mod.__name__):
                found.append(owner_mod)
        elif issubclass(type(holder), tuple) or type(holder).__name__ == "cell":
            if id(holder) not in ours:
                pending.append(holder)
        elif not issubclass(type(holder), (list, types.FrameType)) and not _harness_module(type(holder).__module__):
            # An object whose attributes live inline (3.12+: no dict until asked for) refers to them itself.
            if own_dict(holder) is not None and not issubclass(type(holder), type):
                found.append(holder)
    if not pending:
        return found
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
        referrers = gc.get_referrers(*unknown)
        # A closure cell's referrer is its function's closure tuple: the function is one step on.
        cells = {id(h) for h in unknown if type(h).__name__ == "cell"}
        closures = [r for r in referrers if type(r) is tuple and any(id(x) in cells for x in r)] if cells else []
        if closures:
            referrers += [f for f in gc.get_referrers(*closures) if isinstance(f, types.FunctionType)]
        for owner in referrers:
            _remember_owner(owner, unknown)
        owners += referrers
    seen = {id(x) for x in found}
    for owner in owners:
        if id(owner) in seen:
            continue
        if issubclass(type(owner), types.FunctionType):
            if _harness_module(owner.__module__):
                continue
            if not (id(owner.__defaults__) in wanted or id(owner.__kwdefaults__) in wanted
                    or any(id(c) in wanted for c in owner.__closure__ or ())):
                continue
        elif issubclass(type(owner), type):
            if _harness_module(owner.__module__):
                continue
        else:
            d = own_dict(owner)
            if not (d is not None and id(d) in wanted and not issubclass(type(owner), types.ModuleType)
                    and not _harness_module(type(owner).__module__)):
                continue
        seen.add(id(owner))
        found.append(owner)
    return found


# Which function, class or object holds a defaults tuple, closure cell or __dict__ found holding
# a real callable: looked up with a full heap pass, so remembered across explorations. Entries are
# weak (nothing is kept alive) and every answer is checked against the owner before it is used
# (``_holds``), so a stale or reused entry can only cost the heap pass, never a wrong answer.
_OWNERS: Dict[int, Any] = {}


def _holds(owner: Any, holder: Any) -> bool:
    if issubclass(type(owner), types.FunctionType):
        return (owner.__defaults__ is holder or owner.__kwdefaults__ is holder
                or any(c is holder for c in owner.__closure__ or ()))
    return own_dict(owner) is holder if not issubclass(type(owner), type) \
        else owner.__dict__ == holder and holder is _class_dict(owner)


def _class_dict(cls: type) -> Any:
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
    if not issubclass(type(owner), (types.FunctionType, type)) and own_dict(owner) is None:
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
