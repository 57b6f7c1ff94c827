"""Access models of the data instructions: attributes, items, operators, iteration, generators.

Each model turns run-time operand values (possibly abstract) into an :class:`~.record.Access`.
"""

from __future__ import annotations

import re
import types
from _thread import _local as _thread_local
from collections import OrderedDict, defaultdict, deque
from typing import Any, List, Optional, Tuple

from .record import NONE_ACCESS, Access, unknown
from .values import (
    ALIASES,
    DATA_SAFE,
    MISSING,
    SHAPES,
    attr_shape,
    func_home,
    generic_getattr,
    has_instance_attr,
    local_kind,
    note_instance_dict,
    owner_of,
    python_get,
    store_shape,
    type_lookup,
    under_test,
)
from .vocabulary import (
    ANY_DATA,
    CONTAINERS,
    DICTS,
    EVERYTHING,
    FRESH,
    IMM,
    NEW_GEN,
    NOTHING,
    NULL,
    SEQ_ITERATORS,
    UNKNOWN,
    Abstract,
    ByObject,
    Lazy,
    Loc,
    Super,
    is_immutable,
)


def dealias(acc: Access) -> Access:
    """Rename the locations of instance dicts as the attributes they hold."""
    locs = acc.locs
    out: Optional[List[Tuple[tuple, bool]]] = None
    for n, (loc, w) in enumerate(locs):
        k = loc[0]
        hit = ALIASES.get(loc[1]) if k in (Loc.ITEM, Loc.ITEMS, Loc.OBJECT) and len(loc) > 1 else None
        if hit is not None:
            owner = id(hit[1])
            new = (Loc.ATTR, owner, loc[2]) if k == Loc.ITEM and type(loc[2]) is str else (Loc.OBJECT, owner)
            if out is None:
                out = list(locs[:n])
            out.append((new, w))
        elif out is not None:
            out.append((loc, w))
    if out is None:
        return acc
    res = Access(acc.kind, tuple(out), obj=acc.obj, name=acc.name, space=acc.space, block=acc.block,
                 sync=acc.sync)
    res.value = acc.value
    return res


# --------------------------------------------------------------------------- generators
#
# A generator (or coroutine) frame is a location ``("G", id(frame))`` whose state is "some thread
# runs it": resuming it writes it (another thread's resumption then raises ``ValueError``), and
# every switch point a thread reaches while the frame is on its stack reads it, even a point that
# touches nothing else. So the point after a resumption starts an event of its own, and the
# event in which the frame is left (a ``yield``, a return, an exception) always touches it:
# DPOR can put another thread's resumption between the two, where exhaustive search can.

# id(generator) -> id(its frame), for the generators resumed by a visible access (a finished
# generator has no frame left to name). Weak: report descriptions of every strategy fill it too.
RESUMED = ByObject()


def _frame_loc(frame: Any) -> tuple:
    """The location "this generator frame is running"."""
    return (Loc.FRAME, id(frame))


def with_reads(acc: Access, extra: Tuple[Tuple[tuple, bool], ...]) -> Access:
    """``acc`` that also touches ``extra`` (what the point touches because of where it runs)."""
    if acc.locs is EVERYTHING:
        return acc
    locs = EVERYTHING if extra is EVERYTHING else acc.locs + extra
    return Access(acc.kind, locs, obj=acc.obj, name=acc.name, space=acc.space, block=acc.block, sync=acc.sync)


def resume_access(gen: Any, name: str) -> Access:
    """``next``/``send``/``throw``/``close`` of a generator or coroutine: it runs the frame."""
    code = getattr(gen, "gi_code", None) or getattr(gen, "cr_code", None) or getattr(gen, "ag_code", None)
    frame = getattr(gen, "gi_frame", None) or getattr(gen, "cr_frame", None) or getattr(gen, "ag_frame", None)
    if code is None or not under_test(code):
        return unknown(f"{type(gen).__name__}.{name} of code not under test")
    if frame is None:
        # Finished: it only raises (StopIteration), which reads that it finished.
        fid = RESUMED.get(id(gen))
        if fid is None:
            return NONE_ACCESS
        return Access("call", (((Loc.FRAME, fid), False),), obj=gen, name=name, space="object")
    if id(gen) not in RESUMED:
        RESUMED.put(gen, id(gen), id(frame))
    return Access("call", ((_frame_loc(frame), True),), obj=gen, name=name, space="object")


def super_read(sup: Super, name: str) -> Access:
    """``super().name``: the class attributes of the MRO after ``sup.cls``, up to the one found."""
    obj = sup.obj
    mro = (obj if issubclass(type(obj), type) else type(obj)).__mro__
    try:
        start = mro.index(sup.cls) + 1
    except ValueError:
        return unknown("super() outside the MRO")
    locs = []
    for klass in mro[start:]:
        if klass.__flags__ & _HEAPTYPE:
            locs.append(((Loc.ATTR, id(klass), name), False))
        if name in klass.__dict__:
            break
    return Access("read", tuple(locs), obj=sup, name=name, space="attr") if locs else NONE_ACCESS


def attr_access(obj: Any, name: str, write: bool) -> Access:
    """Reading (or writing) ``obj.name``."""
    tp = type(obj)
    if tp is Abstract:
        if obj is UNKNOWN or obj is NULL:
            return Access("write" if write else "read", (((Loc.SOME_ATTR, name), write),), name=name, space="attr")
        return NONE_ACCESS
    if tp is Super:
        return super_read(obj, name) if not write else unknown("attribute write through super()")
    key = (id(tp), name, write)
    shape = SHAPES.get(key)
    if shape is None:
        shape = _classify_attr(obj, tp, name, write)
        if shape != "instance":
            SHAPES.put(tp, key, shape)
        else:
            shape = attr_shape(obj, name)
    if shape == "plain":
        own = ((Loc.ATTR, id(obj), name), write)
        if not write:
            return Access("read", plain_read_locs(obj, tp, name, own), obj=obj, name=name, space="attr")
        return Access("write", (own,), obj=obj, name=name, space="attr")
    if shape == "instance-dict":
        if write:  # obj.__dict__ = {...}: every attribute at once
            return Access("write", (((Loc.OBJECT, id(obj)), True),), obj=obj, name=name, space="attr")
        note_instance_dict(obj)
        return Access("read", (((Loc.ATTR, id(obj), name), False),), obj=obj, name=name, space="attr")
    if shape == "none":
        return NONE_ACCESS
    if shape == "thread-local":
        # The calling thread's own slot: no other thread can touch it. A read that the slot
        # does not answer falls back on the class attributes, which are shared.
        if write:
            return Access("write", NOTHING, obj=obj, name=name, space="attr")
        return Access("read", class_read_locs(tp, name), obj=obj, name=name, space="attr")
    kind = "write" if write else "read"
    if shape == "unknown-object":
        return Access(kind, (((Loc.SOME_ATTR, name), write),), name=name, space="attr")
    if shape == "module":
        return Access(kind, (((Loc.ITEM, id(obj.__dict__), name), write),), name=name, space="global")
    if shape == "opaque:stdlib" and not write:
        # A property of threading's or queue's own classes (Thread.name, Barrier.n_waiting):
        # it reads the object's state.
        return Access(kind, (((Loc.OBJECT, id(obj)), False),), obj=obj, name=name, space="attr")
    if shape == "opaque:user":
        return Access(kind, (((Loc.ATTR, id(obj), name), write),), obj=obj, name=name, space="attr")
    return unknown(f"{tp.__name__}.{name} runs code the harness cannot see")


_MATCH = re.Match

# (id(class), name) -> the class-attribute locations a read of ``name`` may fall back on.
_CLASS_READS = ByObject()
_HEAPTYPE = 1 << 9


def plain_read_locs(obj: Any, tp: type, name: str, own: Tuple[tuple, bool]) -> Tuple[Tuple[tuple, bool], ...]:
    """A plain attribute read: the instance's attribute, or, when the instance does not hold it,
    the class attributes of its MRO that the lookup goes through (another thread may set them)."""
    if issubclass(type(obj), type):
        cl = class_read_locs(obj, name, True)
    else:
        cl = class_read_locs(tp, name)
        if cl and has_instance_attr(obj, name):
            return (own,)
    return (own,) + cl if cl else (own,)


def class_read_locs(src: type, name: str, skip_first: bool = False) -> Tuple[Tuple[tuple, bool], ...]:
    """The class attributes a lookup of ``name`` goes through on ``src``'s MRO (``skip_first``:
    after ``src`` itself, for an attribute of the class), up to the class that defines it."""
    key = (id(src), name, skip_first)
    cl = _CLASS_READS.get(key)
    if cl is None:
        locs: List[Tuple[tuple, bool]] = []
        for klass in src.__mro__[1:] if skip_first else src.__mro__:
            if klass.__flags__ & _HEAPTYPE:  # a builtin type's attributes cannot be set
                locs.append(((Loc.ATTR, id(klass), name), False))
            if name in klass.__dict__:
                break
        cl = tuple(locs)
        _CLASS_READS.put(src, key, cl)
    return cl


def _classify_attr(obj: Any, tp: type, name: str, write: bool) -> str:
    """How an attribute access on a ``tp`` instance behaves; ``instance`` if it depends on ``obj``."""
    if obj is UNKNOWN or obj is NULL:
        return "unknown-object"
    if obj is FRESH or obj is IMM or tp is Super or tp is Lazy:
        return "none"
    if issubclass(type(obj), types.ModuleType):
        return "module"
    if name == "__dict__" and not issubclass(type(obj), type) and generic_getattr(tp) \
            and type(type_lookup(tp, "__dict__")) is types.GetSetDescriptorType:
        return "instance-dict"
    if not write and not issubclass(type(obj), type) and generic_getattr(tp) \
            and type_lookup(tp, "__dict__") is MISSING:
        # A builtin instance: attributes come from its (immutable) type: methods, slots.
        descr = type_lookup(tp, name)
        if descr is not MISSING and type(descr) not in DATA_SAFE:
            return "none"
    if issubclass(tp, _thread_local):
        shape = _local_shape(tp, name, write)
        if shape is not None:
            return shape
    if write:
        return store_shape(obj, name)
    if not issubclass(type(obj), type) and generic_getattr(tp) and type_lookup(tp, name) is MISSING \
            and type_lookup(tp, "__getattr__") is not MISSING:
        return "instance"
    if not issubclass(type(obj), type) and python_get(type(type_lookup(tp, name))) is not None:
        return "instance"  # a Python non-data descriptor, unless the instance shadows it
    return attr_shape(obj, name)


def _local_shape(tp: type, name: str, write: bool) -> Optional[str]:
    """How an attribute of a ``threading.local`` (or subclass) instance is found: in the calling
    thread's own dict ("thread-local"), unless the class intercepts it; None: not a plain local.

    Its ``__getattribute__`` is the generic lookup with that dict as the instance dict, so a data
    descriptor of the class comes first: a property is code, a slot is shared by every thread.
    """
    if local_kind(tp) is None:
        return None
    if name == "__dict__":
        return "thread-local"  # the calling thread's dict
    descr = type_lookup(tp, name)
    if descr is MISSING:
        return "thread-local"
    dt = type(descr)
    if dt is property:
        return "opaque:" + func_home(descr.fset if write else descr.fget)
    if dt in DATA_SAFE:
        return "plain"  # a slot: stored in the object itself
    if hasattr(dt, "__set__") or hasattr(dt, "__delete__"):
        return "opaque:" + func_home(getattr(dt, "__set__" if write else "__get__", None))
    return "thread-local"


def item_access(cont: Any, key: Any, write: bool) -> Access:
    """Reading (or writing) ``cont[key]``; ``key`` MISSING for a slice."""
    kind = "write" if write else "read"
    if cont is FRESH or cont is IMM:
        return NONE_ACCESS
    if cont is UNKNOWN or cont is NULL or type(cont) is Lazy:
        return Access(kind, ((ANY_DATA, write),), space="item")
    tc = type(cont)
    if tc in (tuple, str, bytes, range, frozenset) and not write:
        return NONE_ACCESS
    if tc in DICTS:
        if key is not MISSING and is_immutable(key) and not (tc is defaultdict and not write):
            return Access(kind, (((Loc.ITEM, id(cont), key), write),), obj=cont, name=key, space="item")
        if tc is defaultdict and not write:
            # A missing key is inserted by the read: it may write.
            if key is not MISSING and is_immutable(key):
                return Access("write", (((Loc.ITEM, id(cont), key), True),), obj=cont, name=key, space="item")
        return Access(kind, (((Loc.ITEMS, id(cont)), write),), obj=cont, name=None, space="items")
    if tc in CONTAINERS:
        return Access(kind, (((Loc.ITEMS, id(cont)), write),), obj=cont, space="items")
    if tc is _MATCH and not write and type(cont.string) in (str, bytes):
        return NONE_ACCESS  # m[1]: a group of a match over an immutable string
    method = "__setitem__" if write else "__getitem__"
    impl = type_lookup(tc, method)
    if impl is not MISSING and func_home(impl) == "user":
        return Access("call", NOTHING, obj=cont, name=method, space="object")
    if issubclass(type(cont), type):  # list[int] and friends
        return NONE_ACCESS if not write else unknown("item assignment on a class")
    return unknown(f"{tc.__name__}[...] runs code the harness cannot see")


def shallow_state(v: Any) -> Optional[tuple]:
    """The location an operator reads on a builtin container, or None if it may read deeper."""
    tc = type(v)
    if tc in DICTS or tc in (list, set, deque, frozenset, tuple, bytearray):
        items = v.values() if tc in DICTS else v
        n = 0
        for x in items:
            n += 1
            if n > 16 or not is_immutable(x):
                return None
        if tc in (tuple, frozenset):
            return ()
        return ((Loc.ITEMS, id(v)),)
    return None


COMPARING = frozenset(("COMPARE_OP", "CONTAINS_OP"))


def operands_access(vals: tuple, opname: str, inplace: bool) -> Access:
    """An operator ``opname`` on ``vals`` (the first one written when ``inplace``)."""
    locs: List[Tuple[tuple, bool]] = []
    for i, v in enumerate(vals):
        if v is IMM or v is FRESH or v is NULL or is_immutable(v):
            continue
        if v is UNKNOWN or type(v) is Lazy:
            # Most likely a number from a call; if a container, reading it reads any data.
            locs.append((ANY_DATA, inplace and i == 0))
            continue
        tc = type(v)
        if issubclass(type(v), (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.ModuleType)):
            continue
        sh = shallow_state(v) if tc in CONTAINERS or tc in (tuple, frozenset) else None
        if sh is not None:
            for loc in sh:
                locs.append((loc, inplace and i == 0))
            continue
        if tc in CONTAINERS or tc in (tuple, frozenset):
            locs.append((ANY_DATA, False))
            if inplace and i == 0:
                locs.append(((Loc.ITEMS, id(v)), True))
            continue
        if tc.__module__ == "builtins" and type_lookup(tc, "__dict__") is MISSING:
            # A builtin value type not listed (e.g. memoryview): reading only.
            locs.append((ANY_DATA, False))
            continue
        # A user object: its dunder methods are code under test with their own switch points,
        # unless the class inherits them from code the harness cannot see.
        if _user_dunders(tc, opname):
            continue
        return unknown(f"operator on {tc.__name__}")
    if not locs:
        return NONE_ACCESS
    return Access("read" if not any(w for _, w in locs) else "write", tuple(locs), space="object")


_DUNDERS = {
    "COMPARE_OP": ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"),
    "CONTAINS_OP": ("__contains__", "__iter__", "__getitem__"),
    "TO_BOOL": ("__bool__", "__len__"),
    "POP_JUMP_IF_TRUE": ("__bool__", "__len__"), "POP_JUMP_IF_FALSE": ("__bool__", "__len__"),
    "POP_JUMP_FORWARD_IF_TRUE": ("__bool__", "__len__"), "POP_JUMP_FORWARD_IF_FALSE": ("__bool__", "__len__"),
    "POP_JUMP_BACKWARD_IF_TRUE": ("__bool__", "__len__"), "POP_JUMP_BACKWARD_IF_FALSE": ("__bool__", "__len__"),
    "JUMP_IF_TRUE_OR_POP": ("__bool__", "__len__"), "JUMP_IF_FALSE_OR_POP": ("__bool__", "__len__"),
    "UNARY_NOT": ("__bool__", "__len__"),
    "FORMAT_VALUE": ("__format__", "__str__", "__repr__"), "FORMAT_SIMPLE": ("__format__", "__str__"),
    "FORMAT_WITH_SPEC": ("__format__",), "CONVERT_VALUE": ("__str__", "__repr__"),
    "BUILD_SET": ("__hash__", "__eq__"),
}


def _user_dunders(tc: type, opname: str) -> bool:
    names = _DUNDERS.get(opname)
    if names is None:
        # Arithmetic: any dunder a class defines outside code under test makes it opaque.
        names = ("__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__mod__", "__pow__",
                 "__iadd__", "__isub__", "__imul__", "__radd__", "__rsub__", "__rmul__", "__and__",
                 "__or__", "__xor__", "__lshift__", "__rshift__", "__neg__", "__pos__", "__invert__",
                 "__matmul__", "__eq__", "__lt__")
    for n in names:
        impl = type_lookup(tc, n)
        if impl is MISSING:
            continue
        owner = owner_of(tc, n)
        if owner is object:
            continue
        if func_home(impl) != "user":
            return False
    return True


def iterate_access(src: Any, iterator: bool) -> Access:
    """One step of iterating ``src`` (``iterator``: ``src`` is the iterator, not the iterable)."""
    if type(src) is Lazy:
        sources = src.sources
        if len(sources) == 1 and type(sources[0]) is list and not src.deep:
            # ``for x in a_list``: what the general case below gives, without its two calls.
            return Access("read", (((Loc.ITEMS, id(sources[0])), False),), space="items")
        locs: List[Tuple[tuple, bool]] = []
        for s in sources:
            a = iterate_access(s, iterator)
            if a.locs is EVERYTHING:
                return a
            locs.extend(a.locs)
        if src.deep and iterator:
            locs.append((ANY_DATA, False))
        return Access("read", tuple(locs), space="items") if locs else NONE_ACCESS
    if src is FRESH or src is IMM or src is NEW_GEN or is_immutable(src):
        return NONE_ACCESS
    if src is UNKNOWN or src is NULL:
        return unknown("iteration over an unknown object")
    tc = type(src)
    if tc in (tuple, frozenset):
        return NONE_ACCESS
    if tc in CONTAINERS:
        return Access("read", (((Loc.ITEMS, id(src)), False),), obj=src, space="items")
    if tc is types.GeneratorType:
        if not iterator and not under_test(src.gi_code):
            return unknown("generator from code not under test")
        # GET_ITER on a generator returns it; FOR_ITER and unpacking resume it.
        return resume_access(src, "__next__")
    if tc in SEQ_ITERATORS:
        # A list or tuple iterator (a comprehension's ``.0``): it reads the sequence it walks.
        try:
            seq = src.__reduce__()[1][0]
        except Exception:  # noqa: BLE001
            seq = UNKNOWN
        inner = iterate_access(seq, iterator=False) if type(seq) in (list, tuple) else Access(
            "read", ((ANY_DATA, False),), space="items")
        return Access("write", (((Loc.OBJECT, id(src)), True),) + inner.locs, obj=src, space="object")
    it = type_lookup(tc, "__iter__")
    nx = type_lookup(tc, "__next__")
    if iterator and nx is not MISSING and func_home(nx) == "user":
        return NONE_ACCESS
    if it is not MISSING and func_home(it) == "user":
        # What the user's __iter__ returned is not known: it reads at most data, or is user code.
        return NONE_ACCESS if not iterator else Access("read", ((ANY_DATA, False),), space="items")
    if tc.__name__.endswith("iterator") and tc.__module__ == "builtins":
        return Access("write", (((Loc.OBJECT, id(src)), True), (ANY_DATA, False)), obj=src, space="object")
    return unknown(f"iteration over {tc.__name__}")


# Iterators that remember their container's size (and raise if it changes) or walk it by index.
_SIZED_ITER = (dict, set, frozenset, deque, OrderedDict, defaultdict)
_SELF_ITER = (types.GeneratorType, types.CoroutineType) + SEQ_ITERATORS


def get_iter_access(src: Any) -> Access:
    """``iter(src)`` (GET_ITER): a dict's, set's or deque's iterator records the size it starts
    from (a later insertion makes the loop raise), so creating it reads the container."""
    sources = src.sources if type(src) is Lazy else (src,)
    locs: List[Tuple[tuple, bool]] = []
    for s in sources:
        if s is UNKNOWN or s is NULL:
            locs.append((ANY_DATA, False))
            continue
        if type(s) is Lazy:
            a = get_iter_access(s)
        elif s is FRESH or s is IMM or s is NEW_GEN or type(s) in (list, tuple, str, bytes, range) \
                or type(s) in _SELF_ITER \
                or is_immutable(s) or callable(s) and type(s) in (types.FunctionType, types.BuiltinFunctionType):
            continue
        elif type(s) in _SIZED_ITER:
            a = Access("read", (((Loc.ITEMS, id(s)), False),), obj=s, space="items")
        else:
            a = iterate_access(s, iterator=False)
        if a.locs is EVERYTHING:
            return a
        locs.extend(a.locs)
    return Access("read", tuple(locs), space="items") if locs else NONE_ACCESS
