"""The access vocabulary: abstract values, location names, and the caches keyed by object id.

Locations are tuples; an access is a tuple of ``(location, is_write)`` (see :mod:`.record`):

``("a", id(obj), name)``  attribute ``name`` of ``obj`` (module attributes are globals)
``("i", id(obj), key)``   item ``key`` of a dict (lists and other containers use ``("k", id)``)
``("k", id(obj))``        all items of a container (``append``, iteration, ``len``)
``("o", id(obj))``        the whole object: every attribute and item
``("i", id(globals), name)`` a global: an item of the module's dict, so ``globals()["x"]`` and
                          ``mod.__dict__["x"]`` are the same location as ``x``
``("c", name)``           a closure cell (by name: sound, coarse)
``("s", id(obj))``        a synchronisation object (lock, queue, event, condition...)
``("d", tid)``            whether thread ``tid`` has finished; ``("r", key)`` threading's registry
``("t",)``                virtual time; ``("io",)`` the interpreter's output streams
``("A", name)``           attribute ``name`` of an unknown object
``("O",)``                any data location (an unknown object read or written)
``("*",)``                everything: an operation the harness cannot see into
``("G", id(frame))``      a generator or coroutine frame is running (resuming it writes this)

An instance's ``__dict__`` (read as ``obj.__dict__``, ``getattr(obj, "__dict__")`` or
``vars(obj)``) is the same memory as its attributes: in the execution that read it, its items
are named as the attributes (``("a", id(obj), key)``) and the dict as a whole as ``("o", id(obj))``.
Reading ``obj.name`` that the instance does not hold reads it from the classes of its MRO:
``("a", id(klass), name)`` for each (user) class up to the one that defines it.

Anything the model does not understand (an instruction without a rule, a call into code not
under test, an object whose methods run code the harness cannot see) is ``("*",)``: DPOR must
never prove a program correct by missing an access.
"""

from __future__ import annotations

import types
import weakref
from collections import OrderedDict, defaultdict, deque
from typing import Any, Callable, Dict, List, Tuple


class Abstract:
    """A value the harness knows something about without holding it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


UNKNOWN = Abstract("unknown")  # could be any object, shared or not
FRESH = Abstract("fresh")  # an object created by this very thread just now: nobody else has it
IMM = Abstract("immutable")  # some immutable builtin value (int, str, tuple of such...)
NULL = Abstract("null")  # the interpreter's NULL stack marker
# A generator of code under test that the running frame has just made and not stored
# (``any(x for x in xs)``): only the call it goes to runs it, and its points are seen.
NEW_GEN = Abstract("new generator")


class Instance(Abstract):
    """A new instance of ``cls`` (a class call's result): its type known, nothing else about it.

    Read only by a ``with`` on it (which ``__enter__`` and ``__exit__`` it calls); every other
    operand reads it as UNKNOWN (``evaluate.operand``): its ``__init__`` may have shared it.
    """

    __slots__ = ("cls", "runs")

    def __init__(self, cls: type, runs: Any = None) -> None:
        super().__init__(f"new {cls.__qualname__}")
        self.cls = cls
        self.runs = runs  # a @contextmanager's generator function: what __enter__ and __exit__ run


class Lazy:
    """A lazy iterator (``enumerate(xs)``, ``d.items()``...) that reads ``sources`` when iterated;
    ``tuples``: each step yields a new tuple (``enumerate``, ``zip``, ``d.items()``); ``deep``:
    each step also looks into values the harness does not know (``filter`` tests the truth of
    what its function returned: the length of a list, say), so it reads any data."""

    __slots__ = ("sources", "tuples", "deep")

    def __init__(self, sources: Tuple[Any, ...], tuples: bool = False, deep: bool = False) -> None:
        self.sources = sources
        self.tuples = tuples
        self.deep = deep


class Super:
    """The value of ``super()`` in a method: attribute lookups start after ``cls`` in ``obj``'s MRO."""

    __slots__ = ("cls", "obj")

    def __init__(self, cls: type, obj: Any) -> None:
        self.cls = cls
        self.obj = obj


# Types whose values an operator can read without touching shared state.
FAST_IMM = frozenset((int, float, str, bool, type(None), bytes, complex))
SEQ_ITERATORS: Tuple[type, ...] = (type(iter([])), type(iter(())), type(iter(range(1))))
IMM_TYPES = (int, float, complex, str, bytes, bool, type(None), range, frozenset, type(Ellipsis),
              types.CodeType)
CONTAINERS = (list, dict, set, bytearray, deque, OrderedDict, defaultdict)
DICTS = (dict, OrderedDict, defaultdict)

class Loc:
    """The kinds of location: the first item of a location tuple (the table above).

    Short strings rather than an enum: locations are hashed and compared in DPOR's innermost
    loops, where an enum member's Python-level ``__hash__`` would cost a call each time.
    """

    ATTR = "a"  # ("a", id(obj), name)
    ITEM = "i"  # ("i", id(container), key); a global is an item of its module's dict
    ITEMS = "k"  # ("k", id(container)): all its items
    OBJECT = "o"  # ("o", id(obj)): every attribute and item
    CELL = "c"  # ("c", name): a closure cell
    SYNC = "s"  # ("s", id(obj)): a synchronisation object
    ENDED = "d"  # ("d", tid or id(thread)): whether a thread has finished
    REGISTRY = "r"  # ("r", key): threading's registry of a thread
    TIME = "t"  # ("t",): virtual time
    OUTPUT = "io"  # ("io",): the interpreter's output streams
    SOME_ATTR = "A"  # ("A", name): attribute ``name`` of an unknown object
    SOME_DATA = "O"  # ("O",): any data location
    ALL = "*"  # ("*",): everything
    FRAME = "G"  # ("G", id(frame)): a generator or coroutine frame


#: The kinds of location that name program data (what ``SOME_DATA`` may be).
DATA_KINDS = frozenset((Loc.ATTR, Loc.ITEM, Loc.ITEMS, Loc.OBJECT, Loc.CELL, Loc.SOME_ATTR, Loc.SOME_DATA))

GLOBAL_LOC = (Loc.ALL,)
ANY_DATA = (Loc.SOME_DATA,)
CLOCK = (Loc.TIME,)
#: The pending deadlines: which timeout may run out first (the earliest does) depends on them.
DEADLINES = (Loc.TIME, "deadlines")
IO = (Loc.OUTPUT,)
EVERYTHING = ((GLOBAL_LOC, True),)
NOTHING: Tuple[Tuple[tuple, bool], ...] = ()


def is_immutable(v: Any, depth: int = 2) -> bool:
    """True for values no thread can change: scalars, strings, and tuples of such."""
    if v is IMM:
        return True
    if issubclass(type(v), IMM_TYPES):
        return True
    if type(v) is tuple and depth > 0:
        return len(v) <= 16 and all(is_immutable(x, depth - 1) for x in v)
    return False


class ByObject(dict):
    """A cache whose keys start with ``id(obj)`` and which forgets ``obj``'s entries when it dies.

    Keyed by id, not by the object, so that it never keeps a class or code object alive: a test
    body that defines a class makes a new one per execution, and a strong cache would keep every
    one (and grow without bound). The weak reference's callback runs before the object's memory
    is freed, so an id is never reused while entries for the dead object remain.
    """

    def __init__(self) -> None:
        super().__init__()
        self._refs: Dict[int, Tuple[Any, List[Any]]] = {}

    def put(self, obj: Any, key: Any, value: Any) -> None:
        """``self[key] = value``, dropped when ``obj`` (whose id ``key`` names) is collected."""
        i = id(obj)
        held = self._refs.get(i)
        if held is None:
            try:
                ref = weakref.ref(obj, self._callback(i))
            except TypeError:
                return  # not weakly referenceable: not cached (correct, only slower)
            held = self._refs[i] = (ref, [])
        held[1].append(key)
        self[key] = value

    def _callback(self, i: int) -> Callable[[Any], None]:
        gone = weakref.ref(self)

        def forget(_: Any) -> None:
            me = gone()
            if me is not None:
                held = me._refs.pop(i, None)
                if held is not None:
                    for k in held[1]:
                        me.pop(k, None)
        return forget

    def reset(self) -> None:
        """Forget everything."""
        self.clear()
        self._refs.clear()
