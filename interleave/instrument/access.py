"""What a switch point touches: the shared location an instruction or sync operation reads or writes.

Python cannot read a frame's value stack, so the operands of an instruction (the object of
``STORE_ATTR``, the container and key of ``BINARY_SUBSCR``, the callable of ``CALL``) are found by
a static pass over each code object: an abstract interpretation of the stack that records, for
each slot, which earlier instruction produced it (a local, a constant, or a visible instruction
such as ``LOAD_GLOBAL``/``LOAD_ATTR``). At run time the operand is the local's current value, the
constant, or the value that producer read when it executed (kept per frame by an
:class:`AccessTracker`). Values are read without running user code: instance dictionaries, slots
and class attributes only; a property or ``__getattr__`` makes the value unknown.

The dependency model (docs/dpor.md) is built on :class:`Access.locs`: a tuple of
``(location, is_write)``. Locations are tuples:

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

``describe(frame)`` is the entry point for reports: ``describe(frame).text`` reads
``"read Counter.value"``; call :meth:`Access.value_now` at the thread's next switch point to show
the value that was read (``-> 0``) or written (``= 1``).
"""

from __future__ import annotations

import builtins
import dis
import os
import queue
import random
import sys
import threading
import types
import weakref
from collections import OrderedDict, defaultdict, deque
from types import CodeType, FrameType
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from ..sync.lock import Lock
from ..sync.simplequeue import SimpleQueue
from .opcodes import visible_offsets

PY = sys.version_info[:2]

# --------------------------------------------------------------------------- abstract values


class _Abstract:
    """A value the harness knows something about without holding it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


UNKNOWN = _Abstract("unknown")  # could be any object, shared or not
FRESH = _Abstract("fresh")  # an object created by this very thread just now: nobody else has it
IMM = _Abstract("immutable")  # some immutable builtin value (int, str, tuple of such...)
NULL = _Abstract("null")  # the interpreter's NULL stack marker


class Lazy:
    """A lazy iterator (``enumerate(xs)``, ``d.items()``...) that reads ``sources`` when iterated."""

    __slots__ = ("sources",)

    def __init__(self, sources: Tuple[Any, ...]) -> None:
        self.sources = sources


class Super:
    """The value of ``super()`` in a method: attribute lookups start after ``cls`` in ``obj``'s MRO."""

    __slots__ = ("cls", "obj")

    def __init__(self, cls: type, obj: Any) -> None:
        self.cls = cls
        self.obj = obj


# Types whose values an operator can read without touching shared state.
_FAST_IMM = frozenset((int, float, str, bool, type(None), bytes, complex))
_SEQ_ITERATORS = (type(iter([])), type(iter(())), type(iter(range(1))))
_IMM_TYPES = (int, float, complex, str, bytes, bool, type(None), range, frozenset, type(Ellipsis),
              types.CodeType)
_CONTAINERS = (list, dict, set, bytearray, deque, OrderedDict, defaultdict)
_DICTS = (dict, OrderedDict, defaultdict)

GLOBAL_LOC = ("*",)
ANY_DATA = ("O",)
CLOCK = ("t",)
IO = ("io",)
EVERYTHING = ((GLOBAL_LOC, True),)
NOTHING: Tuple[Tuple[tuple, bool], ...] = ()


def is_immutable(v: Any, depth: int = 2) -> bool:
    """True for values no thread can change: scalars, strings, and tuples of such."""
    if v is IMM:
        return True
    if isinstance(v, _IMM_TYPES):
        return True
    if type(v) is tuple and depth > 0:
        return len(v) <= 16 and all(is_immutable(x, depth - 1) for x in v)
    return False


# --------------------------------------------------------------------------- the Access record


class Access:
    """What one switch point touches: kind, target object and name, and dependency locations."""

    __slots__ = ("kind", "obj", "name", "space", "locs", "block", "sync", "value")

    def __init__(self, kind: str, locs: Tuple[Tuple[tuple, bool], ...], obj: Any = None,
                 name: Any = None, space: str = "", block: Any = None, sync: Any = None) -> None:
        self.kind = kind  # read | write | call | sync | unknown | none
        self.locs = locs
        self.obj = obj  # the object whose state is touched (None for globals, cells, unknown)
        self.name = name  # attribute name, key, global or cell name
        self.space = space  # attr | item | items | global | cell | object | sync | ""
        self.block = block  # for blocking operations: what must hold for the thread to go on
        self.sync = sync  # ("acquire"|"release", lock) and the like, for happens-before
        self.value: Any = UNKNOWN  # what a read or load produced (filled when it executes)

    @property
    def text(self) -> str:
        """A short description, e.g. ``read Counter.value`` or ``write counts['a']``."""
        target = self.label
        if self.kind in ("read", "write"):
            return f"{self.kind} {target}" if target else self.kind
        if self.kind == "call":
            return f"call {target}" if target else "call"
        if self.kind == "sync":
            return target or "sync"
        return self.kind

    @property
    def label(self) -> str:
        """``Counter.value``, ``counts['a']``, ``global total``, ``cell n``, ``Lock``..."""
        sp = self.space
        if sp == "attr":
            owner = self.obj.__name__ if isinstance(self.obj, type) else type(self.obj).__name__
            return f"{owner}.{self.name}"
        if sp == "item":
            return f"{type(self.obj).__name__}[{self.name!r}]"
        if sp == "method" or (sp == "sync" and self.obj is not None and isinstance(self.name, str)):
            return f"{type(self.obj).__name__}.{self.name}"
        if sp in ("items", "object", "sync"):
            return type(self.obj).__name__ if self.obj is not None else str(self.name or "")
        if sp == "global":
            return f"global {self.name}"
        if sp == "cell":
            return f"cell {self.name}"
        return str(self.name) if self.name is not None else ""

    def value_now(self) -> Any:
        """The location's current value, read without running user code (UNKNOWN if not possible).

        Called at the thread's next switch point it gives what a read produced or a write stored.
        """
        sp = self.space
        try:
            if sp == "attr":
                return attr_value(self.obj, self.name)
            if sp == "item" and type(self.obj) in _DICTS:
                return dict.get(self.obj, self.name, UNKNOWN)
        except Exception:  # noqa: BLE001 - a description must never fail the run
            return UNKNOWN
        return self.value

    def __repr__(self) -> str:
        return f"<Access {self.text} {list(self.locs)}>"


NONE_ACCESS = Access("none", NOTHING)


def _unknown(reason: str = "") -> Access:
    return Access("unknown", EVERYTHING, name=reason)


# --------------------------------------------------------------------------- caches


class _ByObject(dict):
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


# --------------------------------------------------------------------------- instance dicts

# id(d) -> (d, obj) for each instance dict ``d`` of ``obj`` read in the current execution (kept
# alive so that the ids stay unique; emptied by AccessTracker.forget).
_ALIASES: Dict[int, Tuple[Any, Any]] = {}


def note_instance_dict(obj: Any) -> None:
    """``obj``'s ``__dict__`` was read: accesses through that dict touch ``obj``'s attributes."""
    try:
        d = _object_getattribute(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return
    if type(d) is dict or isinstance(d, dict):
        _ALIASES[id(d)] = (d, obj)


def _dealias(acc: Access) -> Access:
    """Rename the locations of instance dicts as the attributes they hold."""
    locs = acc.locs
    out: Optional[List[Tuple[tuple, bool]]] = None
    for n, (loc, w) in enumerate(locs):
        k = loc[0]
        hit = _ALIASES.get(loc[1]) if k in ("i", "k", "o") and len(loc) > 1 else None
        if hit is not None:
            owner = id(hit[1])
            new = ("a", owner, loc[2]) if k == "i" and type(loc[2]) is str else ("o", owner)
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


def _frame_loc(frame: Any) -> tuple:
    """The location "this generator frame is running": resuming it writes it, running in it reads
    it, so that a resumption by another thread is ordered against the generator's own steps
    (resuming a running generator raises ``ValueError``)."""
    return ("G", id(frame))


def _in_suspendable(acc: Access, frame: FrameType) -> Access:
    """An access made inside a generator or coroutine frame also reads the frame's running state."""
    if not acc.locs or acc.locs is EVERYTHING:
        return acc
    res = Access(acc.kind, acc.locs + ((_frame_loc(frame), False),), obj=acc.obj, name=acc.name,
                 space=acc.space, block=acc.block, sync=acc.sync)
    return res


def _resume_access(gen: Any, name: str) -> Access:
    """``next``/``send``/``throw``/``close`` of a generator or coroutine: it runs the frame."""
    code = getattr(gen, "gi_code", None) or getattr(gen, "cr_code", None) or getattr(gen, "ag_code", None)
    frame = getattr(gen, "gi_frame", None) or getattr(gen, "cr_frame", None) or getattr(gen, "ag_frame", None)
    if code is None or not _wants(code):
        return _unknown(f"{type(gen).__name__}.{name} of code not under test")
    if frame is None:
        return NONE_ACCESS  # finished: it only raises
    return Access("call", ((_frame_loc(frame), True),), obj=gen, name=name, space="object")


# --------------------------------------------------------------------------- reading values safely

_MISSING = object()
_DATA_SAFE = (types.MemberDescriptorType, types.GetSetDescriptorType)
_object_getattribute = object.__getattribute__
_type_getattribute = type.__getattribute__
_object_setattr = object.__setattr__


# Builtin types whose own ``__getattribute__`` slot is the generic one (they define it in C only
# so that the type has the slot): attribute reads on them run no code.
_GENERIC_GET_OWNERS = frozenset((object, list, dict, set, frozenset, tuple, str, bytes, bytearray, int,
                                 float, complex, bool, range, slice, deque, defaultdict, memoryview,
                                 types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType))
_generic_get_cache = _ByObject()  # id(type) -> bool


def _generic_getattr(tp: type) -> bool:
    """Whether reading an attribute of a ``tp`` instance runs no Python code of its own."""
    hit = _generic_get_cache.get(id(tp))
    if hit is None:
        owner = _owner(tp, "__getattribute__")
        hit = owner in _GENERIC_GET_OWNERS
        _generic_get_cache.put(tp, id(tp), hit)
    return hit


def _type_lookup(tp: type, name: str) -> Any:
    for klass in tp.__mro__:
        d = klass.__dict__
        if name in d:
            return d[name]
    return _MISSING


_PLAIN_VALUE = _ByObject()  # (id(type), name) -> True


def attr_value(obj: Any, name: str) -> Any:
    """``getattr(obj, name)`` without running any Python code; UNKNOWN where that is impossible."""
    tp = type(obj)
    plan = _PLAIN_VALUE.get((id(tp), name))
    if plan is not None:
        # An instance attribute with nothing on the class that could intercept it.
        try:
            return _object_getattribute(obj, "__dict__")[name]
        except (KeyError, AttributeError, TypeError):
            pass
    v = _attr_value(obj, name)
    if plan is None and tp is not type and not isinstance(obj, (type, types.ModuleType, _Abstract)) \
            and _generic_getattr(tp) and _type_lookup(tp, name) is _MISSING \
            and _type_lookup(tp, "__getattr__") is _MISSING and _has_instance_attr(obj, name):
        _PLAIN_VALUE.put(tp, (id(tp), name), True)
    return v


def _attr_value(obj: Any, name: str) -> Any:
    if obj is UNKNOWN or isinstance(obj, _Abstract) or type(obj) is Lazy:
        return UNKNOWN
    if type(obj) is Super:
        return _super_attr(obj, name)
    if isinstance(obj, types.ModuleType):
        return obj.__dict__.get(name, UNKNOWN)
    tp = type(obj)
    if isinstance(obj, type):
        if tp is not type and tp.__getattribute__ is not _type_getattribute:
            return UNKNOWN
        meta = _type_lookup(tp, name) if tp is not type else _MISSING
        if meta is not _MISSING and hasattr(type(meta), "__set__"):
            return UNKNOWN
        for klass in obj.__mro__:
            d = klass.__dict__
            if name in d:
                v = d[name]
                vt = type(v)
                if vt is types.FunctionType or vt is property or isinstance(v, _IMM_TYPES):
                    return v
                if vt is classmethod:
                    return types.MethodType(v.__func__, obj)
                if vt is staticmethod:
                    return v.__func__
                if not hasattr(vt, "__get__"):
                    return v
                if vt in (types.BuiltinFunctionType, types.WrapperDescriptorType,
                          types.MethodDescriptorType, types.ClassMethodDescriptorType):
                    try:
                        return v.__get__(None, obj)
                    except Exception:  # noqa: BLE001
                        return UNKNOWN
                return UNKNOWN
        return UNKNOWN if meta is _MISSING else meta
    if not _generic_getattr(tp):
        return UNKNOWN
    descr = _type_lookup(tp, name)
    if descr is not _MISSING:
        dt = type(descr)
        if hasattr(dt, "__set__") or hasattr(dt, "__delete__"):
            if dt in _DATA_SAFE:
                try:
                    return descr.__get__(obj, tp)
                except Exception:  # noqa: BLE001 - an unset slot raises AttributeError
                    return UNKNOWN
            return UNKNOWN
    try:
        d = _object_getattribute(obj, "__dict__")
    except Exception:  # noqa: BLE001
        d = None
    if type(d) is dict and name in d:
        return d[name]
    if descr is _MISSING:
        return UNKNOWN
    dt = type(descr)
    if dt is types.FunctionType:
        return types.MethodType(descr, obj)
    if dt is classmethod:
        return types.MethodType(descr.__func__, tp)
    if dt is staticmethod:
        return descr.__func__
    if dt in (types.MethodDescriptorType, types.WrapperDescriptorType, types.BuiltinFunctionType):
        try:
            return descr.__get__(obj, tp)
        except Exception:  # noqa: BLE001
            return UNKNOWN
    if not hasattr(dt, "__get__"):
        return descr
    return UNKNOWN


def _super_attr(sup: Super, name: str) -> Any:
    obj = sup.obj
    tp = obj if isinstance(obj, type) else type(obj)
    mro = tp.__mro__
    try:
        start = mro.index(sup.cls) + 1
    except ValueError:
        return UNKNOWN
    for klass in mro[start:]:
        d = klass.__dict__
        if name in d:
            v = d[name]
            vt = type(v)
            if vt is types.FunctionType:
                return v if isinstance(obj, type) else types.MethodType(v, obj)
            if vt is classmethod:
                return types.MethodType(v.__func__, tp)
            if vt is staticmethod:
                return v.__func__
            if vt in (types.WrapperDescriptorType, types.MethodDescriptorType):
                try:
                    return v.__get__(obj, tp)
                except Exception:  # noqa: BLE001
                    return UNKNOWN
            return UNKNOWN
    return UNKNOWN


def _attr_shape(obj: Any, name: str) -> str:
    """How ``obj.name`` is found: plain | module | code (a Python getter) | opaque."""
    tp = type(obj)
    if isinstance(obj, types.ModuleType):
        return "module"
    if not isinstance(obj, type) and not _generic_getattr(tp):
        return "opaque:" + _func_home(tp.__getattribute__)
    if isinstance(obj, type):
        return "plain"
    descr = _type_lookup(tp, name)
    if descr is _MISSING:
        ga = _type_lookup(tp, "__getattr__")
        if ga is not _MISSING and not _has_instance_attr(obj, name):
            return "opaque:" + _func_home(ga)
        return "plain"
    dt = type(descr)
    if dt is property:
        return "opaque:" + _func_home(descr.fget)
    if (hasattr(dt, "__set__") or hasattr(dt, "__delete__")) and dt not in _DATA_SAFE:
        return "opaque:" + _func_home(getattr(dt, "__get__", None))
    return "plain"


def _has_instance_attr(obj: Any, name: str) -> bool:
    try:
        d = _object_getattribute(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return False
    return type(d) is dict and name in d


def _func_home(f: Any) -> str:
    """``user`` if ``f`` is Python code under test, ``stdlib`` for threading/queue, else ``other``."""
    code = getattr(f, "__code__", None)
    if code is not None and _wants(code):
        return "user"
    if getattr(f, "__module__", None) in ("threading", "queue"):
        return "stdlib"
    return "other"


def _store_shape(obj: Any, name: str) -> str:
    tp = type(obj)
    if isinstance(obj, types.ModuleType):
        return "module"
    sa = tp.__setattr__
    if sa is not _object_setattr and not isinstance(obj, type):
        return "opaque:" + _func_home(sa)
    descr = _type_lookup(tp, name) if not isinstance(obj, type) else _MISSING
    if descr is not _MISSING:
        dt = type(descr)
        if dt is property:
            return "opaque:" + _func_home(descr.fset)
        if hasattr(dt, "__set__") and dt not in _DATA_SAFE:
            return "opaque:" + _func_home(dt.__set__)
    return "plain"


# Which code is "under test" (its own instructions are switch points). Set by the tracker from
# the session's filter; the default rule otherwise.
def _default_wants(code: CodeType) -> bool:
    from .filter import is_user_code_file

    return is_user_code_file(code.co_filename)


_wants: Callable[[CodeType], bool] = _default_wants


def set_code_filter(wants: Callable[[CodeType], bool]) -> None:
    """Tell the analysis which code objects are instrumented (their bodies are switch points).

    An attribute's shape (is its getter code under test, or opaque?) depends on the filter: a
    new filter (another exploration's instrument=/exclude=) starts from an empty shape cache.
    """
    global _wants
    if wants is _wants:
        return
    try:
        same = bool(wants == _wants)  # the same filter's bound method, fetched again
    except Exception:  # noqa: BLE001 - a strange callable: treat it as a new filter
        same = False
    if not same:
        _SHAPES.reset()
    _wants = wants


# --------------------------------------------------------------------------- static analysis

# Stack slot descriptors produced by the abstract interpretation.
#   ("f", name)   local variable     ("k", value)  constant     ("n",) NULL
#   ("e", offset) value produced by the visible instruction at offset (kept by the tracker)
#   ("x", offset) the __exit__ pushed by the with-statement set-up at offset
#   ("new",)      a fresh object (BUILD_LIST...)     None  unknown

_F = "f"
_NULLD = ("n",)
_NEW = ("new",)

_UNCOND = frozenset("JUMP_FORWARD JUMP_ABSOLUTE JUMP_BACKWARD JUMP_BACKWARD_NO_INTERRUPT JUMP "
                    "JUMP_NO_INTERRUPT".split())
_TERMINAL = frozenset("RETURN_VALUE RETURN_CONST RAISE_VARARGS RERAISE".split())
_JUMPS = set(getattr(dis, "hasjrel", [])) | set(getattr(dis, "hasjabs", [])) | set(getattr(dis, "hasjump", []))

_BINARY = frozenset("""BINARY_OP BINARY_ADD BINARY_SUBTRACT BINARY_MULTIPLY BINARY_TRUE_DIVIDE
BINARY_FLOOR_DIVIDE BINARY_MODULO BINARY_POWER BINARY_LSHIFT BINARY_RSHIFT BINARY_AND BINARY_OR
BINARY_XOR BINARY_MATRIX_MULTIPLY INPLACE_ADD INPLACE_SUBTRACT INPLACE_MULTIPLY INPLACE_TRUE_DIVIDE
INPLACE_FLOOR_DIVIDE INPLACE_MODULO INPLACE_POWER INPLACE_LSHIFT INPLACE_RSHIFT INPLACE_AND
INPLACE_OR INPLACE_XOR INPLACE_MATRIX_MULTIPLY COMPARE_OP CONTAINS_OP""".split())
_UNARY = frozenset("UNARY_NEGATIVE UNARY_POSITIVE UNARY_INVERT TO_BOOL FORMAT_SIMPLE".split())
_TRUTH_JUMPS = frozenset("POP_JUMP_IF_TRUE POP_JUMP_IF_FALSE POP_JUMP_FORWARD_IF_TRUE "
                         "POP_JUMP_FORWARD_IF_FALSE POP_JUMP_BACKWARD_IF_TRUE POP_JUMP_BACKWARD_IF_FALSE "
                         "JUMP_IF_TRUE_OR_POP JUMP_IF_FALSE_OR_POP".split())
_BUILD_N = frozenset("BUILD_TUPLE BUILD_LIST BUILD_SET BUILD_STRING".split())
# Visible instructions that read or write no object another thread can reach: the class builder
# (a builtin), the frame's own namespace, an exception match on the exception being handled.
_NO_SHARED_STATE = frozenset("LOAD_BUILD_CLASS LOAD_LOCALS JUMP_IF_NOT_EXC_MATCH SETUP_ASYNC_WITH".split())


class Spec:
    """What a visible instruction does to which operands (descriptors resolved at run time)."""

    __slots__ = ("op", "offset", "name", "args", "produce", "kw", "inplace", "const", "gdict")

    def __init__(self, op: str, offset: int, name: Any = None, args: tuple = (),
                 kw: Optional[tuple] = None, inplace: bool = False) -> None:
        self.op = op
        self.offset = offset
        self.name = name
        self.args = args
        self.produce = False  # some later instruction reads the value this one pushes
        self.kw = kw
        self.inplace = inplace
        self.const: Optional[Access] = None  # the access, when it depends on nothing but the code
        self.gdict: Any = None  # ...and on these globals

    def __repr__(self) -> str:
        return f"Spec({self.op}@{self.offset} {self.name!r} {self.args})"


class CodeInfo:
    """The analysis of one code object: a Spec per visible offset."""

    __slots__ = ("specs", "ok")

    def __init__(self, specs: Dict[int, Spec], ok: bool) -> None:
        self.specs = specs
        self.ok = ok


# Keyed by ``(id(code), model)``: hashing a code object hashes its constants every time, and a
# key holding the code would keep every ``exec``'d or per-execution code object alive.
_INFO = _ByObject()
# The instruction model's analyses by ``id(code)``, for the per-switch-point path.
_BY_ID = _ByObject()


_SUSPENDABLE = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR


def _specs(code: CodeType) -> Tuple[bool, Dict[int, Spec], bool]:
    hit = _BY_ID.get(id(code))
    if hit is None:
        info = analyze(code, "instruction")
        hit = (bool(code.co_flags & _SUSPENDABLE), info.specs, info.ok)
        _BY_ID.put(code, id(code), hit)
    return hit


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


def _merge(a: Optional[list], b: list) -> Optional[list]:
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


class _Analyzer:
    def __init__(self, code: CodeType, model: str) -> None:
        self.code = code
        self.instrs = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
        self.index = {ins.offset: k for k, ins in enumerate(self.instrs)}
        self.visible = visible_offsets(code, "instruction")
        self.specs: Dict[int, Spec] = {}
        self.producers: Dict[int, bool] = {}
        self.kwnames: Dict[int, tuple] = {}

    def run(self) -> CodeInfo:
        instrs = self.instrs
        if not instrs:
            return CodeInfo({}, True)
        states: Dict[int, Optional[list]] = {instrs[0].offset: []}
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
                    and ins.opname not in _NO_SHARED_STATE:
                self.specs[ins.offset] = Spec("opaque", ins.offset, ins.opname)
        # Mark the producers some visible consumer reads.
        for spec in self.specs.values():
            for d in _descs(spec):
                if d is not None and d[0] in ("e", "x"):
                    p = self.specs.get(d[1])
                    if p is not None:
                        p.produce = True
        return CodeInfo(self.specs, True)

    def _exception_handlers(self) -> List[Tuple[int, int, int, int, bool]]:
        if PY >= (3, 11):
            parse = getattr(dis, "_parse_exception_table", None)
            if parse is None:
                raise ValueError("no exception table parser")
            return [(e.start, e.end, e.target, e.depth, e.lasti) for e in parse(self.code)]
        return []

    def _spec(self, ins: Any, op: str, name: Any = None, args: tuple = (), **kw: Any) -> None:
        if ins.offset in self.visible:
            self.specs[ins.offset] = Spec(op, ins.offset, name, args, **kw)

    def _step(self, ins: Any, st: list) -> List[Tuple[int, list]]:  # noqa: C901 - one opcode table
        name = ins.opname
        arg = ins.arg
        off = ins.offset
        nxt = self.instrs[self.index[off] + 1].offset if self.index[off] + 1 < len(self.instrs) else None
        jump_stack: Optional[list] = None
        depth_before = len(st)

        def e() -> tuple:
            return ("e", off)

        if name in ("NOP", "RESUME", "EXTENDED_ARG", "PRECALL", "CACHE", "NOT_TAKEN", "SETUP_ANNOTATIONS",
                    "COPY_FREE_VARS", "MAKE_CELL", "GEN_START") or name in _UNCOND:
            pass
        elif name == "RETURN_GENERATOR":
            # The generator starts here: the value its first resumption sends (popped next).
            st.append(None)
        elif name == "KW_NAMES":
            self.kwnames[off] = self.code.co_consts[arg]
        elif name in ("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR", "LOAD_CLOSURE"):
            st.append((_F, ins.argval) if name != "LOAD_CLOSURE" else None)
        elif name == "LOAD_FAST_LOAD_FAST":
            a, b = ins.argval
            st += [(_F, a), (_F, b)]
        elif name == "LOAD_CONST":
            st.append(("k", ins.argval))
        elif name in ("STORE_FAST", "DELETE_FAST"):
            if name == "STORE_FAST":
                st.pop()
            _invalidate(st, ins.argval)
        elif name == "STORE_FAST_LOAD_FAST":
            a, b = ins.argval
            st.pop()
            _invalidate(st, a)
            st.append((_F, b))
        elif name == "STORE_FAST_STORE_FAST":
            a, b = ins.argval
            st.pop()
            _invalidate(st, a)
            st.pop()
            _invalidate(st, b)
        elif name == "POP_TOP":
            st.pop()
        elif name == "PUSH_NULL":
            st.append(_NULLD)
        elif name in ("DUP_TOP",):
            st.append(st[-1])
        elif name == "DUP_TOP_TWO":
            st += st[-2:]
        elif name == "COPY":
            st.append(st[-arg])
        elif name == "SWAP":
            st[-1], st[-arg] = st[-arg], st[-1]
        elif name == "ROT_TWO":
            st[-1], st[-2] = st[-2], st[-1]
        elif name == "ROT_THREE":
            st[-3:] = [st[-1], st[-3], st[-2]]
        elif name == "ROT_FOUR":
            st[-4:] = [st[-1], st[-4], st[-3], st[-2]]
        elif name == "ROT_N":
            top = st.pop()
            st.insert(len(st) - arg + 1, top)
        elif name in ("LOAD_GLOBAL", "LOAD_NAME"):
            gname = ins.argval if isinstance(ins.argval, str) else self.code.co_names[arg >> 1]
            self._spec(ins, "global_r" if name == "LOAD_GLOBAL" else "name_r", gname)
            push_null = name == "LOAD_GLOBAL" and PY >= (3, 11) and arg & 1
            if push_null and PY < (3, 13):
                st.append(_NULLD)
            st.append(e())
            if push_null and PY >= (3, 13):
                st.append(_NULLD)
        elif name in ("STORE_GLOBAL", "STORE_NAME", "DELETE_GLOBAL", "DELETE_NAME"):
            kind = "global_w" if "GLOBAL" in name else "name_w"
            self._spec(ins, kind, ins.argval)
            if name.startswith("STORE"):
                st.pop()
        elif name in ("LOAD_DEREF", "LOAD_CLASSDEREF"):
            self._spec(ins, "cell_r", ins.argval)
            st.append(e())
        elif name == "LOAD_FROM_DICT_OR_DEREF":
            st.pop()
            self._spec(ins, "cell_r", ins.argval)
            st.append(e())
        elif name in ("STORE_DEREF", "DELETE_DEREF"):
            self._spec(ins, "cell_w", ins.argval)
            if name == "STORE_DEREF":
                st.pop()
        elif name in ("LOAD_ATTR", "LOAD_METHOD"):
            obj = st.pop()
            method = name == "LOAD_METHOD" or (PY >= (3, 12) and arg & 1)
            aname = ins.argval
            self._spec(ins, "attr_r", aname, (obj,))
            st.append(e())
            if method:
                st.append(_NULLD)
        elif name == "LOAD_SUPER_ATTR":
            self_, cls, _sup = st.pop(), st.pop(), st.pop()
            self._spec(ins, "super_attr", ins.argval, (cls, self_))
            st.append(e())
            if arg & 1:
                st.append(_NULLD)
        elif name == "STORE_ATTR":
            obj = st.pop()
            st.pop()
            self._spec(ins, "attr_w", ins.argval, (obj,))
        elif name == "DELETE_ATTR":
            obj = st.pop()
            self._spec(ins, "attr_w", ins.argval, (obj,))
        elif name == "BINARY_SUBSCR":
            key = st.pop()
            cont = st.pop()
            self._spec(ins, "item_r", None, (cont, key))
            st.append(e())
        elif name == "STORE_SUBSCR":
            key = st.pop()
            cont = st.pop()
            st.pop()
            self._spec(ins, "item_w", None, (cont, key))
        elif name == "DELETE_SUBSCR":
            key = st.pop()
            cont = st.pop()
            self._spec(ins, "item_w", None, (cont, key))
        elif name == "BINARY_SLICE":
            st.pop()
            st.pop()
            cont = st.pop()
            self._spec(ins, "item_r", None, (cont, None))
            st.append(e())
        elif name == "STORE_SLICE":
            st.pop()
            st.pop()
            cont = st.pop()
            st.pop()
            self._spec(ins, "item_w", None, (cont, None))
        elif name in _BINARY:
            b = st.pop()
            a = st.pop()
            inplace = name.startswith("INPLACE_") or (name == "BINARY_OP" and "=" in ins.argrepr)
            self._spec(ins, "binary", name, (a, b), inplace=inplace)
            st.append(e())
        elif name in _UNARY or name in ("UNARY_NOT", "FORMAT_VALUE", "CONVERT_VALUE"):
            if name == "FORMAT_VALUE" and arg is not None and (arg & 4):
                st.pop()
            a = st.pop()
            self._spec(ins, "unary", name, (a,))
            st.append(e())
        elif name == "FORMAT_WITH_SPEC":
            st.pop()
            a = st.pop()
            self._spec(ins, "unary", name, (a,))
            st.append(e())
        elif name in _TRUTH_JUMPS:
            a = st[-1]
            self._spec(ins, "unary", name, (a,))
            if name.startswith("JUMP_IF_"):
                jump_stack = list(st)
                st.pop()
            else:
                st.pop()
                jump_stack = list(st)
        elif name in ("POP_JUMP_IF_NONE", "POP_JUMP_IF_NOT_NONE", "POP_JUMP_FORWARD_IF_NONE",
                      "POP_JUMP_FORWARD_IF_NOT_NONE", "POP_JUMP_BACKWARD_IF_NONE",
                      "POP_JUMP_BACKWARD_IF_NOT_NONE"):
            st.pop()
            jump_stack = list(st)
        elif name == "IS_OP":
            st.pop()
            st.pop()
            st.append(("k", True))
        elif name == "GET_ITER":
            a = st.pop()
            self._spec(ins, "get_iter", None, (a,))
            st.append(e())
        elif name == "FOR_ITER":
            it = st[-1]
            self._spec(ins, "for_iter", None, (it,))
            jump_stack = list(st)
            if PY >= (3, 12):
                jump_stack.append(None)
            else:
                jump_stack.pop()
            st.append(None)
        elif name == "END_FOR":
            st.pop()
            if PY == (3, 12):
                st.pop()
        elif name in ("UNPACK_SEQUENCE", "UNPACK_EX"):
            a = st.pop()
            self._spec(ins, "unpack", None, (a,))
            n = arg if name == "UNPACK_SEQUENCE" else (arg & 0xFF) + (arg >> 8) + 1
            st += [None] * n
        elif name in ("LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE", "DICT_MERGE"):
            a = st.pop()
            self._spec(ins, "iterate", None, (a,))
        elif name == "BUILD_SET" and arg:
            elems = tuple(st[-arg:])
            del st[-arg:]
            self._spec(ins, "operands", name, elems)
            st.append(_NEW)
        elif name in _BUILD_N:
            if arg:
                del st[-arg:]
            st.append(_NEW if name != "BUILD_STRING" else ("k", ""))
        elif name == "BUILD_MAP":
            if arg:
                del st[-2 * arg:]
            st.append(_NEW)
        elif name == "BUILD_CONST_KEY_MAP":
            del st[-(arg + 1):]
            st.append(_NEW)
        elif name == "BUILD_SLICE":
            del st[-arg:]
            st.append(("k", slice(None)))
        elif name in ("LIST_APPEND", "SET_ADD"):
            st.pop()
        elif name == "MAP_ADD":
            st.pop()
            st.pop()
        elif name == "LIST_TO_TUPLE":
            st.pop()
            st.append(_NEW)
        elif name == "MAKE_FUNCTION":
            if PY >= (3, 13):
                st.pop()
            else:
                n = 2 if PY < (3, 11) else 1
                n += bin(arg & 0x0F).count("1")
                del st[-n:]
            st.append(_NEW)
        elif name == "SET_FUNCTION_ATTRIBUTE":
            st.pop()
        elif name in ("CALL", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW", "CALL_KW"):
            self._call(ins, st)
        elif name == "CALL_FUNCTION_EX":
            n = (2 if PY < (3, 11) else 3) + (arg & 1)
            slots = st[-n:]
            del st[-n:]
            callee = slots[0] if PY < (3, 11) or PY >= (3, 13) else slots[1]
            self._spec(ins, "call_ex", None, (callee,))
            st.append(e())
        elif name in ("BEFORE_WITH", "SETUP_WITH"):
            cm = st.pop()
            self._spec(ins, "with", None, (cm,))
            exit_slot = ("x", off)
            if name == "SETUP_WITH":
                jump_stack = list(st) + [exit_slot] + [None] * 6
            st += [exit_slot, None]
        elif name in ("SETUP_FINALLY", "SETUP_ASYNC_WITH"):
            jump_stack = list(st) + [None] * 6
        elif name == "WITH_EXCEPT_START":
            exit_slot = st[-7] if PY < (3, 11) else (st[-4] if PY == (3, 11) else st[-4])
            self._spec(ins, "call", None, (exit_slot, _NULLD, None, None, None))
            st.append(e())
        elif name == "RETURN_VALUE" or name == "RETURN_CONST":
            return []
        elif name in ("RAISE_VARARGS", "RERAISE"):
            return []
        elif name == "POP_BLOCK":
            pass
        elif name == "POP_EXCEPT":
            del st[-(1 if PY >= (3, 11) else 3):]
        elif name == "PUSH_EXC_INFO":
            st[-1:] = [None, None]
        elif name == "CHECK_EXC_MATCH":
            st[-1] = None
        elif name == "CHECK_EG_MATCH":
            st[-2:] = [None, None]
        elif name == "JUMP_IF_NOT_EXC_MATCH":
            del st[-2:]
            jump_stack = list(st)
        elif name in ("LOAD_BUILD_CLASS", "LOAD_ASSERTION_ERROR", "LOAD_LOCALS"):
            st.append(None)
        elif name == "IMPORT_NAME":
            st.pop()
            st.pop()
            self._spec(ins, "opaque", name)
            st.append(None)
        elif name == "IMPORT_FROM":
            self._spec(ins, "opaque", name)
            st.append(None)
        else:
            self._generic(ins, st)
            if ins.offset in self.visible and name not in ("YIELD_VALUE", "CALL_INTRINSIC_1"):
                self._spec(ins, "opaque", name)
        outs: List[Tuple[int, list]] = []
        is_jump = ins.opcode in _JUMPS
        if is_jump:
            target = ins.argval
            if jump_stack is None:
                if name in _UNCOND:
                    jump_stack = st
                else:
                    # A jump we do not model: its target starts from an unknown stack.
                    eff = dis.stack_effect(ins.opcode, arg, jump=True)
                    if depth_before + eff < 0:
                        raise ValueError("negative stack depth")
                    jump_stack = [None] * (depth_before + eff)
            outs.append((target, jump_stack))
        if name not in _UNCOND and nxt is not None:
            outs.append((nxt, st))
        return outs

    def _generic(self, ins: Any, st: list) -> None:
        """An instruction we do not model: the whole stack becomes unknown (precision, not soundness)."""
        eff = dis.stack_effect(ins.opcode, ins.arg, jump=False) if ins.opcode >= dis.HAVE_ARGUMENT \
            else dis.stack_effect(ins.opcode, jump=False)
        depth = len(st) + eff
        if depth < 0:
            raise ValueError("negative stack depth")
        st[:] = [None] * depth

    def _call(self, ins: Any, st: list) -> None:
        name = ins.opname
        argc = ins.arg
        kwn: Optional[tuple] = None
        if name == "CALL_FUNCTION_KW":
            kd = st.pop()
            kwn = kd[1] if kd is not None and kd[0] == "k" else ()
            n = argc + 1
            slots = st[-n:]
            del st[-n:]
            callee, args = slots[0], slots[1:]
        elif name in ("CALL_FUNCTION",):
            n = argc + 1
            slots = st[-n:]
            del st[-n:]
            callee, args = slots[0], slots[1:]
        else:  # CALL / CALL_METHOD / CALL_KW: two callable slots
            if name == "CALL_KW":
                kd = st.pop()
                kwn = kd[1] if kd is not None and kd[0] == "k" else ()
            elif PY in ((3, 11), (3, 12)):
                k = self.index[ins.offset]
                for j in (k - 1, k - 2):
                    if j >= 0 and self.instrs[j].opname == "KW_NAMES":
                        kwn = self.code.co_consts[self.instrs[j].arg]
                        break
            n = argc + 2
            slots = st[-n:]
            del st[-n:]
            a0, a1 = slots[0], slots[1]
            if PY >= (3, 13) or name == "CALL_METHOD" and PY < (3, 11):
                # [callable, self_or_null, args] (3.13) / [meth|NULL, self|callable] (<=3.10)
                if PY >= (3, 13):
                    callee, extra = a0, a1
                elif a0 == _NULLD:
                    callee, extra = a1, _NULLD
                else:
                    callee, extra = a0, a1
            else:
                if a0 == _NULLD:
                    callee, extra = a1, _NULLD
                else:
                    callee, extra = a0, a1
            args = ([extra] if extra != _NULLD else []) + list(slots[2:])
        if kwn is None:
            kwn = ()
        self._spec(ins, "call", None, tuple([callee] + list(args)), kw=tuple(kwn))
        st.append(("e", ins.offset))


def _invalidate(st: list, name: str) -> None:
    for i, d in enumerate(st):
        if d is not None and d[0] == _F and d[1] == name:
            st[i] = None


def _descs(spec: Spec) -> tuple:
    return spec.args


# --------------------------------------------------------------------------- run-time evaluation


class AccessTracker:
    """Describes each switch point as an :class:`Access`, exactly, by remembering per frame what
    the producing instructions read when they executed.

    Protocol (as the recorder sees the runtime): ``pick(frame, code, offset)`` when a thread
    reaches an instruction switch point; ``executing(frame, code, offset, access)`` right before
    that instruction runs (for the value a load produces); ``forget()`` between executions.
    """

    def __init__(self, wants: Optional[Callable[[CodeType], bool]] = None, model: str = "instruction") -> None:
        if wants is not None:
            set_code_filter(wants)
        self.model = model
        self.sync_cache: Dict[Tuple[str, int], Access] = {}
        self.memos: Dict[Any, Dict[int, Any]] = {}
        self.keep: List[Any] = []  # objects touched this execution: their ids stay unique

    def forget(self) -> None:
        """Drop per-execution state (frames and the objects their ids name)."""
        self.memos = {}
        self.keep = []
        _ALIASES.clear()

    def pick(self, frame: FrameType, code: CodeType, offset: int, _outer: bool = True) -> Access:
        """The access of the instruction at ``offset`` that ``frame`` is about to execute."""
        hit = _BY_ID.get(id(code))
        if hit is None:
            hit = _specs(code)
        if hit[0] and _outer:
            return _in_suspendable(self.pick(frame, code, offset, False), frame)
        spec = hit[1].get(offset)
        if spec is None:
            if not hit[2]:
                return _unknown("unanalysed code")
            return NONE_ACCESS
        const = spec.const
        if const is not None and spec.gdict is frame.f_globals:
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
                    obj = _val(d, frame, memo)
                write = op == "attr_w"
                tp = type(obj)
                if tp is not _Abstract and _SHAPES.get((id(tp), spec.name, write)) == "plain":
                    self.keep.append(obj)
                    name = spec.name
                    own = (("a", id(obj), name), write)
                    if not write:
                        return Access("read", _plain_read_locs(obj, tp, name, own), obj, name, "attr")
                    return Access("write", (own,), obj, name, "attr")
                acc = _attr_access(obj, spec.name, write)
            elif op == "binary" or op == "unary":
                imm = _FAST_IMM
                ok = True
                for d in spec.args:
                    v = memo.get(d[1], UNKNOWN) if d is not None and d[0] == "e" else _val(d, frame, memo)
                    if type(v) not in imm and v is not IMM and v is not FRESH:
                        ok = False
                        break
                if ok:
                    return NONE_ACCESS
                acc = _evaluate(spec, frame, memo)
            else:
                acc = _evaluate(spec, frame, memo)
        except Exception:  # noqa: BLE001 - an evaluation failure must cost precision only
            return _unknown("evaluation error")
        if _ALIASES:
            acc = _dealias(acc)
        if acc.obj is not None:
            self.keep.append(acc.obj)
        return acc

    def executing(self, frame: FrameType, code: CodeType, offset: int, acc: Access) -> Any:
        """The instruction runs now: remember (and return) the value it produces, if a later
        instruction reads it; UNKNOWN otherwise."""
        hit = _BY_ID.get(id(code))
        if hit is None:
            return UNKNOWN
        spec = hit[1].get(offset)
        if spec is None or not spec.produce:
            return UNKNOWN
        memo = self.memos.get(frame)
        if memo is None:
            memo = self.memos[frame] = {}
        v = self._produce(spec, frame, memo)
        if (acc.kind == "read" or acc.kind == "sync") and acc is not spec.const:
            acc.value = v
        return v

    def _produce(self, spec: Spec, frame: FrameType, memo: Dict[int, Any]) -> Any:
        op = spec.op
        try:
            if op == "attr_r":
                d = spec.args[0]
                obj = memo.get(d[1], UNKNOWN) if d is not None and d[0] == "e" else _val(d, frame, memo)
                v = attr_value(obj, spec.name)
            elif op == "global_r":
                v = frame.f_globals.get(spec.name, _MISSING)
                if v is _MISSING:
                    v = frame.f_builtins.get(spec.name, UNKNOWN)
            elif op == "cell_r":
                v = frame.f_locals.get(spec.name, UNKNOWN)
            else:
                v = _produce(spec, frame, memo, NONE_ACCESS)
        except Exception:  # noqa: BLE001
            v = UNKNOWN
        memo[spec.offset] = v
        if type(v) not in _FAST_IMM and type(v) is not _Abstract:
            self.keep.append(v)
        return v

    def produce_only(self, frame: FrameType, code: CodeType, offset: int) -> None:
        """The instruction runs now and its access is already known: keep what it produces."""
        hit = _BY_ID.get(id(code))
        if hit is None:
            hit = _specs(code)
        spec = hit[1].get(offset)
        if spec is None or not spec.produce:
            return
        memo = self.memos.get(frame)
        if memo is None:
            memo = self.memos[frame] = {}
        self._produce(spec, frame, memo)


def frame_of(start: Optional[FrameType], code: CodeType, limit: int = 16) -> Optional[FrameType]:
    """The frame running ``code``, walking out from ``start`` (a recorder's own frame)."""
    f = start
    n = 0
    while f is not None and f.f_code is not code and n < limit:
        f = f.f_back
        n += 1
    return f if f is not None and f.f_code is code else None


def suspended_point(vt: Any) -> Optional[Tuple[Optional[CodeType], int, Any, Optional[FrameType]]]:
    """Where a suspended virtual thread stands: ``(code, offset, op, frame)`` of the switch
    point it is paused at (``frame`` is the runtime's own, to walk out from), or None when it is
    parked in a blocking call or not started."""
    from ..runtime.execution import Execution

    point_code = Execution.point.__code__
    park_code = Execution.park.__code__
    g = getattr(vt, "glet", None)
    f = g.gr_frame if g is not None else None
    n = 0
    while f is not None and n < 80:
        c = f.f_code
        if c is point_code:
            loc = f.f_locals
            return (loc.get("code"), loc.get("offset", 0), loc.get("op"), f)
        if c is park_code:
            return None
        f = f.f_back
        n += 1
    return None


def describe(frame: FrameType, code: Optional[CodeType] = None, offset: Optional[int] = None) -> Access:
    """What the instruction ``frame`` is about to execute touches (for reports).

    Without a tracker the operands that earlier loads produced are recomputed from the frame's
    current state, which is what they were unless another thread changed them in between.
    """
    code = code or frame.f_code
    offset = frame.f_lasti if offset is None else offset
    info = analyze(code)
    spec = info.specs.get(offset)
    if spec is None:
        return NONE_ACCESS if info.ok else _unknown("unanalysed code")
    memo = _Recompute(frame, info)
    try:
        acc = _evaluate(spec, frame, memo)
    except Exception:  # noqa: BLE001
        return _unknown("evaluation error")
    return _dealias(acc) if _ALIASES else acc


class _Recompute(dict):
    """A memo that recomputes a producer's value from the frame when asked (for ``describe``)."""

    def __init__(self, frame: FrameType, info: CodeInfo) -> None:
        super().__init__()
        self.frame = frame
        self.info = info
        self.depth = 0

    def get(self, off: int, default: Any = None) -> Any:  # type: ignore[override]
        spec = self.info.specs.get(off)
        if spec is None or self.depth > 8:
            return default
        self.depth += 1
        try:
            acc = _evaluate(spec, self.frame, self)
            return _produce(spec, self.frame, self, acc)
        except Exception:  # noqa: BLE001
            return default
        finally:
            self.depth -= 1


def _locals(frame: FrameType) -> Any:
    return frame.f_locals


def _val(d: Any, frame: FrameType, memo: Any) -> Any:
    if d is None:
        return UNKNOWN
    tag = d[0]
    if tag == "f":
        return _locals(frame).get(d[1], UNKNOWN)
    if tag == "e" or tag == "x":
        return memo.get(d[1] if tag == "e" else -1 - d[1], UNKNOWN)
    if tag == "k":
        return d[1]
    if tag == "new":
        return FRESH
    if tag == "n":
        return NULL
    return UNKNOWN


def _loc_key(obj: Any) -> int:
    return id(obj)


def _evaluate(spec: Spec, frame: FrameType, memo: Any) -> Access:  # noqa: C901 - one table
    op = spec.op
    if op == "attr_r" or op == "attr_w":
        obj = _val(spec.args[0], frame, memo)
        return _attr_access(obj, spec.name, op == "attr_w")
    if op == "global_r" or op == "global_w":
        g = frame.f_globals
        acc = Access("read" if op == "global_r" else "write",
                     ((("i", id(g), spec.name), op == "global_w"),), name=spec.name, space="global")
        spec.const = acc
        spec.gdict = g
        return acc
    if op == "name_r" or op == "name_w":
        g = frame.f_globals
        write = op == "name_w"
        ns = frame.f_locals
        if ns is not g:
            # A class body's namespace, or the locals mapping given to exec/eval (which other
            # threads may share): the name is an item of it; a read falls back to the globals.
            if not isinstance(ns, dict):
                return _unknown(f"name {spec.name} in a {type(ns).__name__} namespace")
            own = (("i", id(ns), spec.name), write)
            locs = (own,) if write else (own, (("i", id(g), spec.name), False))
            return Access("write" if write else "read", locs, obj=ns, name=spec.name, space="global")
        return Access("write" if write else "read",
                      ((("i", id(g), spec.name), write),), name=spec.name, space="global")
    if op == "cell_r" or op == "cell_w":
        acc = Access("read" if op == "cell_r" else "write", ((("c", spec.name), op == "cell_w"),),
                     name=spec.name, space="cell")
        spec.const = acc
        spec.gdict = frame.f_globals
        return acc
    if op == "super_attr":
        cls = _val(spec.args[0], frame, memo)
        obj = _val(spec.args[1], frame, memo)
        if isinstance(cls, type) and obj is not UNKNOWN and not isinstance(obj, _Abstract):
            return _super_read(Super(cls, obj), spec.name)
        return Access("read", ((("A", spec.name), False),), name=spec.name, space="attr")
    if op == "get_iter":
        return _get_iter_access(_val(spec.args[0], frame, memo))
    if op == "item_r" or op == "item_w":
        cont = _val(spec.args[0], frame, memo)
        key = _val(spec.args[1], frame, memo) if spec.args[1] is not None else _MISSING
        return _item_access(cont, key, op == "item_w")
    if op == "call":
        return _call_access(spec, frame, memo)
    if op == "binary":
        a = _val(spec.args[0], frame, memo)
        b = _val(spec.args[1], frame, memo)
        return _operands_access((a, b), spec.name, spec.inplace)
    if op == "unary":
        return _operands_access((_val(spec.args[0], frame, memo),), spec.name, False)
    if op == "operands":
        return _operands_access(tuple(_val(d, frame, memo) for d in spec.args), spec.name, False)
    if op == "get_iter":
        return NONE_ACCESS
    if op == "for_iter":
        return _iterate_access(_val(spec.args[0], frame, memo), iterator=True)
    if op == "unpack" or op == "iterate":
        return _iterate_access(_val(spec.args[0], frame, memo), iterator=False)
    if op == "with":
        cm = _val(spec.args[0], frame, memo)
        return _with_access(cm)
    if op == "super_attr":
        return NONE_ACCESS
    if op == "call_ex":
        callee = _val(spec.args[0], frame, memo)
        if _python_user_callable(callee):
            return Access("call", NOTHING, name=_callable_name(callee))
        return _unknown("call with *args of " + _callable_name(callee))
    return _unknown(str(spec.name))


def _produce(spec: Spec, frame: FrameType, memo: Any, acc: Access) -> Any:
    """The value the instruction pushes, computed just before it runs."""
    op = spec.op
    if op == "attr_r":
        obj = _val(spec.args[0], frame, memo)
        v = attr_value(obj, spec.name)
        return v
    if op == "global_r" or op == "name_r":
        if op == "name_r" and frame.f_locals is not frame.f_globals and spec.name in frame.f_locals:
            v = frame.f_locals[spec.name]
        else:
            v = frame.f_globals.get(spec.name, _MISSING)
            if v is _MISSING:
                v = frame.f_builtins.get(spec.name, UNKNOWN)
        return v
    if op == "cell_r":
        v = _locals(frame).get(spec.name, UNKNOWN)
        return v
    if op == "item_r":
        cont = _val(spec.args[0], frame, memo)
        if spec.args[1] is None:
            return FRESH if type(cont) in (list, str, bytes, tuple, bytearray) else UNKNOWN
        key = _val(spec.args[1], frame, memo)
        tc = type(cont)
        v = UNKNOWN
        if tc in _DICTS and is_immutable(key):
            v = dict.get(cont, key, UNKNOWN) if tc is not defaultdict or key in cont else UNKNOWN
        elif tc in (list, tuple) and type(key) is int:
            try:
                v = cont[key]
            except IndexError:
                v = UNKNOWN
        return v
    if op == "with":
        cm = _val(spec.args[0], frame, memo)
        ex = attr_value(type(cm), "__exit__") if cm is not UNKNOWN and not isinstance(cm, _Abstract) else UNKNOWN
        memo[-1 - spec.offset] = types.MethodType(ex, cm) if type(ex) is types.FunctionType else (
            ex.__get__(cm, type(cm)) if type(ex) in (types.WrapperDescriptorType, types.MethodDescriptorType)
            else UNKNOWN)
        return UNKNOWN
    if op == "get_iter":
        src = _val(spec.args[0], frame, memo)
        if type(src) is Lazy:
            return src
        return Lazy((src,))
    if op == "binary" or op == "unary":
        vals = [_val(d, frame, memo) for d in spec.args]
        if spec.name in ("COMPARE_OP", "CONTAINS_OP", "TO_BOOL", "UNARY_NOT"):
            if all(is_immutable(v) or v is FRESH for v in vals) or spec.name != "COMPARE_OP":
                return IMM
        if all(is_immutable(v) for v in vals):
            return IMM
        return UNKNOWN
    if op == "call":
        return _call_result(spec, frame, memo)
    if op == "super_attr":
        cls = _val(spec.args[0], frame, memo)
        obj = _val(spec.args[1], frame, memo)
        if isinstance(cls, type) and obj is not UNKNOWN:
            return _super_attr(Super(cls, obj), spec.name)
        return UNKNOWN
    return UNKNOWN


# --------------------------------------------------------------------------- access models


# (id(type), name, write) -> how such an access behaves. Depends on the code filter (is a getter
# code under test?): set_code_filter empties it for each new filter.
_SHAPES = _ByObject()


def _super_read(sup: Super, name: str) -> Access:
    """``super().name``: the class attributes of the MRO after ``sup.cls``, up to the one found."""
    obj = sup.obj
    mro = (obj if isinstance(obj, type) else type(obj)).__mro__
    try:
        start = mro.index(sup.cls) + 1
    except ValueError:
        return _unknown("super() outside the MRO")
    locs = []
    for klass in mro[start:]:
        if klass.__flags__ & _HEAPTYPE:
            locs.append((("a", id(klass), name), False))
        if name in klass.__dict__:
            break
    return Access("read", tuple(locs), name=name, space="attr") if locs else NONE_ACCESS


def _attr_access(obj: Any, name: str, write: bool) -> Access:
    tp = type(obj)
    if tp is _Abstract:
        if obj is UNKNOWN or obj is NULL:
            return Access("write" if write else "read", ((("A", name), write),), name=name, space="attr")
        return NONE_ACCESS
    if tp is Super:
        return _super_read(obj, name) if not write else _unknown("attribute write through super()")
    key = (id(tp), name, write)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _classify_attr(obj, tp, name, write)
        if shape != "instance":
            _SHAPES.put(tp, key, shape)
        else:
            shape = _attr_shape(obj, name)
    if shape == "plain":
        own = (("a", id(obj), name), write)
        if not write:
            return Access("read", _plain_read_locs(obj, tp, name, own), obj=obj, name=name, space="attr")
        return Access("write", (own,), obj=obj, name=name, space="attr")
    if shape == "instance-dict":
        if write:  # obj.__dict__ = {...}: every attribute at once
            return Access("write", ((("o", id(obj)), True),), obj=obj, name=name, space="attr")
        note_instance_dict(obj)
        return Access("read", ((("a", id(obj), name), False),), obj=obj, name=name, space="attr")
    if shape == "none":
        return NONE_ACCESS
    kind = "write" if write else "read"
    if shape == "unknown-object":
        return Access(kind, ((("A", name), write),), name=name, space="attr")
    if shape == "module":
        return Access(kind, ((("i", id(obj.__dict__), name), write),), name=name, space="global")
    if shape == "opaque:stdlib" and not write:
        # A property of threading's or queue's own classes (Thread.name, Barrier.n_waiting):
        # it reads the object's state.
        return Access(kind, ((("o", id(obj)), False),), obj=obj, name=name, space="attr")
    if shape == "opaque:user":
        return Access(kind, ((("a", id(obj), name), write),), obj=obj, name=name, space="attr")
    return _unknown(f"{tp.__name__}.{name} runs code the harness cannot see")


# (id(class), name) -> the class-attribute locations a read of ``name`` may fall back on.
_CLASS_READS = _ByObject()
_HEAPTYPE = 1 << 9


def _plain_read_locs(obj: Any, tp: type, name: str, own: Tuple[tuple, bool]) -> Tuple[Tuple[tuple, bool], ...]:
    """A plain attribute read: the instance's attribute, or, when the instance does not hold it,
    the class attributes of its MRO that the lookup goes through (another thread may set them)."""
    src = obj if isinstance(obj, type) else tp
    key = (id(src), name)
    cl = _CLASS_READS.get(key)
    if cl is None:
        locs: List[Tuple[tuple, bool]] = []
        for klass in src.__mro__[1:] if src is obj else src.__mro__:
            if klass.__flags__ & _HEAPTYPE:  # a builtin type's attributes cannot be set
                locs.append((("a", id(klass), name), False))
            if name in klass.__dict__:
                break
        cl = tuple(locs)
        _CLASS_READS.put(src, key, cl)
    if not cl or (src is tp and _has_instance_attr(obj, name)):
        return (own,)
    return (own,) + cl


def _classify_attr(obj: Any, tp: type, name: str, write: bool) -> str:
    """How an attribute access on a ``tp`` instance behaves; ``instance`` if it depends on ``obj``."""
    if obj is UNKNOWN or obj is NULL:
        return "unknown-object"
    if obj is FRESH or obj is IMM or tp is Super or tp is Lazy:
        return "none"
    if isinstance(obj, types.ModuleType):
        return "module"
    if name == "__dict__" and not isinstance(obj, type) and _generic_getattr(tp) \
            and type(_type_lookup(tp, "__dict__")) is types.GetSetDescriptorType:
        return "instance-dict"
    if not write and not isinstance(obj, type) and _generic_getattr(tp) and not hasattr(obj, "__dict__"):
        # A builtin instance: attributes come from its (immutable) type: methods, slots.
        descr = _type_lookup(tp, name)
        if descr is not _MISSING and type(descr) not in _DATA_SAFE:
            return "none"
    if write:
        return _store_shape(obj, name)
    if not isinstance(obj, type) and _generic_getattr(tp) and _type_lookup(tp, name) is _MISSING \
            and _type_lookup(tp, "__getattr__") is not _MISSING:
        return "instance"
    return _attr_shape(obj, name)


def _item_access(cont: Any, key: Any, write: bool) -> Access:
    kind = "write" if write else "read"
    if cont is FRESH or cont is IMM:
        return NONE_ACCESS
    if cont is UNKNOWN or cont is NULL or type(cont) is Lazy:
        return Access(kind, ((ANY_DATA, write),), space="item")
    tc = type(cont)
    if tc in (tuple, str, bytes, range, frozenset) and not write:
        return NONE_ACCESS
    if tc in _DICTS:
        if key is not _MISSING and is_immutable(key) and not (tc is defaultdict and not write):
            return Access(kind, ((("i", id(cont), key), write),), obj=cont, name=key, space="item")
        if tc is defaultdict and not write:
            # A missing key is inserted by the read: it may write.
            if key is not _MISSING and is_immutable(key):
                return Access("write", ((("i", id(cont), key), True),), obj=cont, name=key, space="item")
        return Access(kind, ((("k", id(cont)), write),), obj=cont, name=None, space="items")
    if tc in _CONTAINERS:
        return Access(kind, ((("k", id(cont)), write),), obj=cont, space="items")
    method = "__setitem__" if write else "__getitem__"
    impl = _type_lookup(tc, method)
    if impl is not _MISSING and _func_home(impl) == "user":
        return Access("call", NOTHING, obj=cont, name=method, space="object")
    if isinstance(cont, type):  # list[int] and friends
        return NONE_ACCESS if not write else _unknown("item assignment on a class")
    return _unknown(f"{tc.__name__}[...] runs code the harness cannot see")


def _shallow_state(v: Any) -> Optional[tuple]:
    """The location an operator reads on a builtin container, or None if it may read deeper."""
    tc = type(v)
    if tc in _DICTS or tc in (list, set, deque, frozenset, tuple, bytearray):
        items = v.values() if tc in _DICTS else v
        n = 0
        for x in items:
            n += 1
            if n > 16 or not is_immutable(x):
                return None
        if tc in (tuple, frozenset):
            return ()
        return (("k", id(v)),)
    return None


def _operands_access(vals: tuple, opname: str, inplace: bool) -> Access:
    locs: List[Tuple[tuple, bool]] = []
    for i, v in enumerate(vals):
        if v is IMM or v is FRESH or v is NULL or is_immutable(v):
            continue
        if v is UNKNOWN or type(v) is Lazy:
            # Most likely a number from a call; if a container, reading it reads any data.
            locs.append((ANY_DATA, inplace and i == 0))
            continue
        tc = type(v)
        if isinstance(v, (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.ModuleType)):
            continue
        sh = _shallow_state(v) if tc in _CONTAINERS or tc in (tuple, frozenset) else None
        if sh is not None:
            for loc in sh:
                locs.append((loc, inplace and i == 0))
            continue
        if tc in _CONTAINERS or tc in (tuple, frozenset):
            locs.append((ANY_DATA, False))
            if inplace and i == 0:
                locs.append((("k", id(v)), True))
            continue
        if tc.__module__ == "builtins" and not hasattr(v, "__dict__"):
            # A builtin value type not listed (e.g. memoryview): reading only.
            locs.append((ANY_DATA, False))
            continue
        # A user object: its dunder methods are code under test with their own switch points,
        # unless the class inherits them from code the harness cannot see.
        if _user_dunders(tc, opname):
            continue
        return _unknown(f"operator on {tc.__name__}")
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
        impl = _type_lookup(tc, n)
        if impl is _MISSING:
            continue
        owner = _owner(tc, n)
        if owner is object:
            continue
        if _func_home(impl) != "user":
            return False
    return True


def _owner(tc: type, name: str) -> Any:
    for klass in tc.__mro__:
        if name in klass.__dict__:
            return klass
    return None


def _iterate_access(src: Any, iterator: bool) -> Access:
    if type(src) is Lazy:
        locs: List[Tuple[tuple, bool]] = []
        for s in src.sources:
            a = _iterate_access(s, iterator)
            if a.locs is EVERYTHING:
                return a
            locs.extend(a.locs)
        return Access("read", tuple(locs), space="items") if locs else NONE_ACCESS
    if src is FRESH or src is IMM or is_immutable(src):
        return NONE_ACCESS
    if src is UNKNOWN or src is NULL:
        return _unknown("iteration over an unknown object")
    tc = type(src)
    if tc in (tuple, frozenset):
        return NONE_ACCESS
    if tc in _CONTAINERS:
        return Access("read", ((("k", id(src)), False),), obj=src, space="items")
    if tc is types.GeneratorType:
        if not iterator and not _wants(src.gi_code):
            return _unknown("generator from code not under test")
        # GET_ITER on a generator returns it; FOR_ITER and unpacking resume it.
        return _resume_access(src, "__next__")
    if tc in _SEQ_ITERATORS:
        # A list or tuple iterator (a comprehension's ``.0``): it reads the sequence it walks.
        try:
            seq = src.__reduce__()[1][0]
        except Exception:  # noqa: BLE001
            seq = UNKNOWN
        inner = _iterate_access(seq, iterator=False) if type(seq) in (list, tuple) else Access(
            "read", ((ANY_DATA, False),), space="items")
        return Access("write", ((("o", id(src)), True),) + inner.locs, obj=src, space="object")
    it = _type_lookup(tc, "__iter__")
    nx = _type_lookup(tc, "__next__")
    if iterator and nx is not _MISSING and _func_home(nx) == "user":
        return NONE_ACCESS
    if it is not _MISSING and _func_home(it) == "user":
        # What the user's __iter__ returned is not known: it reads at most data, or is user code.
        return NONE_ACCESS if not iterator else Access("read", ((ANY_DATA, False),), space="items")
    if tc.__name__.endswith("iterator") and tc.__module__ == "builtins":
        return Access("write", ((("o", id(src)), True), (ANY_DATA, False)), obj=src, space="object")
    return _unknown(f"iteration over {tc.__name__}")


# Iterators that remember their container's size (and raise if it changes) or walk it by index.
_SIZED_ITER = (dict, set, frozenset, deque, OrderedDict, defaultdict)
_SELF_ITER = (types.GeneratorType, types.CoroutineType) + _SEQ_ITERATORS


def _get_iter_access(src: Any) -> Access:
    """``iter(src)`` (GET_ITER): a dict's, set's or deque's iterator records the size it starts
    from (a later insertion makes the loop raise), so creating it reads the container."""
    sources = src.sources if type(src) is Lazy else (src,)
    locs: List[Tuple[tuple, bool]] = []
    for s in sources:
        if s is UNKNOWN or s is NULL:
            locs.append((ANY_DATA, False))
            continue
        if type(s) is Lazy:
            a = _get_iter_access(s)
        elif s is FRESH or s is IMM or type(s) in (list, tuple, str, bytes, range) or type(s) in _SELF_ITER \
                or is_immutable(s) or callable(s) and type(s) in (types.FunctionType, types.BuiltinFunctionType):
            continue
        elif type(s) in _SIZED_ITER:
            a = Access("read", ((("k", id(s)), False),), obj=s, space="items")
        else:
            a = _iterate_access(s, iterator=False)
        if a.locs is EVERYTHING:
            return a
        locs.extend(a.locs)
    return Access("read", tuple(locs), space="items") if locs else NONE_ACCESS


def _with_access(cm: Any) -> Access:
    if cm is UNKNOWN or isinstance(cm, _Abstract):
        return _unknown("with on an unknown object")
    tc = type(cm)
    enter = _type_lookup(tc, "__enter__")
    if enter is _MISSING:
        return NONE_ACCESS  # raises
    if _interleave_code(enter):
        return NONE_ACCESS  # our Lock: the acquire is a switch point of its own
    if _func_home(enter) == "user":
        return Access("call", NOTHING, obj=cm, name="__enter__", space="object")
    model = _sync_method_model(cm, "__enter__", (), ())
    if model is not None:
        return model
    return _unknown(f"with {tc.__name__}")


# --------------------------------------------------------------------------- calls

_HERE = None


def _interleave_code(f: Any) -> bool:
    global _HERE
    code = getattr(f, "__code__", None)
    if code is None:
        f2 = getattr(f, "__func__", None)
        code = getattr(f2, "__code__", None)
    if code is None:
        return False
    if _HERE is None:
        _HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    return code.co_filename.startswith(_HERE)


def _python_user_callable(f: Any) -> bool:
    if type(f) is types.MethodType:
        f = f.__func__
    code = getattr(f, "__code__", None) if type(f) is types.FunctionType else None
    return code is not None and _wants(code)


def _callable_name(f: Any) -> str:
    if f is UNKNOWN or isinstance(f, _Abstract):
        return "an unknown callable"
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__


_PURE_BUILTINS = frozenset("""len isinstance issubclass id hash abs min max sum sorted any all repr ascii
format callable hasattr divmod pow round ord chr bin hex oct type bool int float str bytes tuple list
dict set frozenset complex range slice enumerate zip reversed iter filter map object super getattr
vars dir""".split())
_FRESH_RESULT = frozenset("sorted list dict set tuple bytearray".split())
_IMM_RESULT = frozenset("len isinstance issubclass id hash abs repr ascii format callable hasattr divmod "
                        "pow round ord chr bin hex oct bool int float str bytes complex frozenset".split())
_LAZY_RESULT = frozenset("enumerate zip reversed iter filter map".split())

_READ_METHODS = frozenset("""get keys values items copy count index __contains__ __len__ __getitem__
__iter__ issubset issuperset isdisjoint union intersection difference symmetric_difference
startswith endswith find rfind join split rsplit strip lstrip rstrip format replace lower upper
encode decode hex __eq__ __ne__ __lt__ __le__ __gt__ __ge__ __repr__ __str__ __hash__""".split())
_KEYED_METHODS = frozenset("get pop setdefault __getitem__ __setitem__ __delitem__ __contains__".split())
_ARG_READING_METHODS = frozenset("extend update __iadd__ __ior__ union intersection difference "
                                 "symmetric_difference issubset issuperset isdisjoint join __eq__ "
                                 "intersection_update difference_update symmetric_difference_update "
                                 "extendleft __contains__ count index remove".split())


def _arg_reads(vals: List[Any]) -> Optional[List[Tuple[tuple, bool]]]:
    locs: List[Tuple[tuple, bool]] = []
    for v in vals:
        if v is FRESH or v is IMM or v is NULL or is_immutable(v):
            continue
        if v is UNKNOWN or type(v) is Lazy:
            locs.append((ANY_DATA, False))
            continue
        tc = type(v)
        if tc in _CONTAINERS or tc in (tuple, frozenset):
            sh = _shallow_state(v)
            if sh is None:
                locs.append((ANY_DATA, False))
            else:
                locs.extend((loc, False) for loc in sh)
            continue
        if isinstance(v, (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.ModuleType)):
            continue
        locs.append((("o", id(v)), False))
    return locs


def _call_access(spec: Spec, frame: FrameType, memo: Any) -> Access:
    vals = [_val(d, frame, memo) for d in spec.args]
    callee, args = vals[0], vals[1:]
    kw = spec.kw or ()
    npos = len(args) - len(kw)
    pos, kwargs = args[:npos], dict(zip(kw, args[npos:], strict=False))
    return call_model(callee, pos, kwargs)


def call_model(callee: Any, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    """The access of calling ``callee(*pos, **kwargs)`` (values may be abstract)."""
    if callee is FRESH:
        # A function this frame just made (MAKE_FUNCTION): its code is this module's, under test.
        return Access("call", NOTHING, name="<function>")
    if callee is UNKNOWN or isinstance(callee, _Abstract):
        return _unknown("call of an unknown callable")
    tcal = type(callee)
    if tcal is types.FunctionType or tcal is types.MethodType:
        func = callee.__func__ if tcal is types.MethodType else callee
        code = getattr(func, "__code__", None)
        if code is not None and _wants(code):
            return Access("call", NOTHING, name=_callable_name(callee))
        if _interleave_code(func):
            return _interleave_call(callee, pos, kwargs)
        if tcal is types.MethodType:
            model = _sync_method_model(callee.__self__, func.__name__, pos, kwargs, func)
            if model is not None:
                return model
        model = _module_function_model(func, pos, kwargs)
        if model is not None:
            return model
        return _unknown(f"call of {_callable_name(callee)} (code not under test)")
    if tcal is types.BuiltinFunctionType or tcal is types.BuiltinMethodType:
        recv = getattr(callee, "__self__", None)
        name = callee.__name__
        if recv is None or isinstance(recv, types.ModuleType):
            return _builtin_function_model(callee, name, pos, kwargs)
        return _builtin_method_model(recv, name, pos, kwargs)
    if isinstance(callee, type):
        return _class_call_model(callee, pos, kwargs)
    if tcal.__name__ == "method-wrapper":
        recv = getattr(callee, "__self__", None)
        return _builtin_method_model(recv, callee.__name__, pos, kwargs)
    if tcal is __import__("functools").partial:
        inner = call_model(callee.func, list(callee.args) + list(pos), {**callee.keywords, **kwargs})
        return inner
    call = _type_lookup(tcal, "__call__")
    if call is not _MISSING and _func_home(call) == "user":
        return Access("call", NOTHING, name=_callable_name(callee))
    return _unknown(f"call of {_callable_name(callee)}")


def _interleave_call(callee: Any, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    func = callee.__func__ if type(callee) is types.MethodType else callee
    name = func.__name__
    recv = callee.__self__ if type(callee) is types.MethodType else None
    if isinstance(recv, Lock):
        if name in ("acquire", "release", "__enter__", "__exit__", "acquire_lock", "release_lock"):
            return NONE_ACCESS  # the operation itself is a sync switch point right after
        return Access("read", ((("s", id(recv)), False),), obj=recv, name=name, space="sync")
    if isinstance(recv, SimpleQueue):
        block = None
        if name == "get" and _blocking(pos, kwargs, ("block", "timeout"), True, None):
            block = ("nonempty", recv)
        return Access("sync", ((("s", id(recv)), True),), obj=recv, name=name, space="sync", block=block,
                      sync=("put", recv) if name.startswith("put") else ("get", recv))
    mod = getattr(func, "__module__", "") or ""
    if mod.endswith("vtime"):
        if name == "sleep":
            return NONE_ACCESS
        return Access("read", ((CLOCK, False),), name=name, space="")
    if name in ("switch", "get_ident", "get_native_id", "current_vthread"):
        return NONE_ACCESS
    return _unknown(f"call of interleave's {name}")


def _blocking(pos: List[Any], kwargs: Dict[str, Any], names: Tuple[str, ...], block_default: Any,
              timeout_default: Any) -> bool:
    """True when a call with these arguments waits for ever if it cannot proceed."""
    vals = dict(zip(names, pos, strict=False))
    vals.update(kwargs)
    b = vals.get(names[0], block_default)
    t = vals.get(names[1], timeout_default) if len(names) > 1 else timeout_default
    if b is UNKNOWN or t is UNKNOWN:
        return False
    return bool(b) and (t is None or (isinstance(t, (int, float)) and t < 0 and t == timeout_default))


def _sync_method_model(obj: Any, name: str, pos: tuple, kwargs: Dict[str, Any], func: Any = None) -> Optional[Access]:
    """Models of the standard library's threading and queue objects (pure Python on our Lock)."""
    def lock_of(x: Any) -> Any:
        return getattr(x, "_lock", None)

    locs: List[Tuple[tuple, bool]] = [(("o", id(obj)), True)]
    block = None
    sync = None
    if isinstance(obj, threading.Thread):
        if func is not None and getattr(func, "__module__", None) != "threading":
            return None
        if name == "start":
            locs = [(("o", id(obj)), True), (("r", id(obj)), True)]
            sync = ("start", obj)
        elif name == "join":
            if not kwargs and not pos:
                block = ("join", obj)
            locs = [(("o", id(obj)), True), (("d", id(obj)), False)]
            sync = ("join", obj)
        elif name in ("is_alive", "isAlive", "__repr__"):
            locs = [(("o", id(obj)), False), (("d", id(obj)), False)]
        elif name in ("getName", "isDaemon"):
            locs = [(("o", id(obj)), False)]
        elif name in ("run", "_bootstrap"):
            return None
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if isinstance(obj, threading.Condition):
        lk = lock_of(obj)
        locs.append((("s", id(lk)), True))
        if name in ("acquire", "__enter__") and _blocking(pos, kwargs, ("blocking", "timeout"), True, -1):
            rlock_type = getattr(threading, "_PyRLock", None)
            if isinstance(lk, Lock):
                block = ("lock", lk)
            elif rlock_type is not None and isinstance(lk, rlock_type):
                block = ("rlock", lk)
        if name in ("acquire", "__enter__"):
            sync = ("acquire", lk)
        elif name in ("release", "__exit__"):
            sync = ("release", lk)
        elif name in ("wait", "wait_for"):
            sync = ("wait", lk)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    rlock_t = getattr(threading, "_PyRLock", None)
    if rlock_t is not None and isinstance(obj, rlock_t):
        inner = getattr(obj, "_block", None)
        locs.append((("s", id(inner)), True))
        if name in ("acquire", "__enter__") and _blocking(pos, kwargs, ("blocking", "timeout"), True, -1):
            block = ("rlock", obj)
        sync = ("acquire", obj) if name in ("acquire", "__enter__") else (
            ("release", obj) if name in ("release", "__exit__") else None)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if isinstance(obj, threading.Event):
        lk = lock_of(getattr(obj, "_cond", None))
        if name in ("is_set", "isSet"):
            locs = [(("o", id(obj)), False)]
        elif name == "wait":
            locs = [(("o", id(obj)), False), (("s", id(lk)), True)]
            if not pos and not kwargs:
                block = ("event", obj)
        else:
            locs = [(("o", id(obj)), True), (("s", id(lk)), True)]
        # is_set() that returns True publishes like wait() does (the usual flag idiom).
        sync = ("set", obj) if name == "set" else (("wait", obj) if name in ("wait", "is_set", "isSet") else None)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if isinstance(obj, threading.Semaphore):  # and BoundedSemaphore
        lk = lock_of(getattr(obj, "_cond", None))
        locs.append((("s", id(lk)), True))
        if name in ("acquire", "__enter__") and _blocking(pos, kwargs, ("blocking", "timeout"), True, None):
            block = ("sem", obj)
        sync = ("acquire", obj) if name in ("acquire", "__enter__") else (
            ("release", obj) if name in ("release", "__exit__") else None)
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if isinstance(obj, threading.Barrier):
        lk = lock_of(getattr(obj, "_cond", None))
        locs.append((("s", id(lk)), True))
        sync = ("barrier", obj) if name == "wait" else None
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", sync=sync)
    if isinstance(obj, queue.Queue):
        mtx = getattr(obj, "mutex", None)
        reading = name in ("qsize", "empty", "full")
        locs = [(("o", id(obj)), not reading), (("s", id(mtx)), True)]
        if name == "get" and _blocking(pos, kwargs, ("block", "timeout"), True, None):
            block = ("qget", obj)
        elif name == "put" and _blocking(pos[1:], kwargs, ("block", "timeout"), True, None) and obj.maxsize > 0:
            block = ("qput", obj)
        elif name == "join":
            block = ("qjoin", obj)
        sync = ("put", obj) if name.startswith("put") else (
            ("get", obj) if name.startswith("get") else (("qjoin", obj) if name == "join" else (
                ("task_done", obj) if name == "task_done" else None)))
        return Access("sync", tuple(locs), obj=obj, name=name, space="sync", block=block, sync=sync)
    if isinstance(obj, threading.local):
        return None
    if isinstance(obj, random.Random):
        return Access("write", ((("o", id(obj)), True),), obj=obj, name=name, space="object")
    return None


def _module_function_model(func: Any, pos: List[Any], kwargs: Dict[str, Any]) -> Optional[Access]:
    mod = getattr(func, "__module__", None)
    name = getattr(func, "__name__", "")
    if mod == "threading":
        if name in ("current_thread", "currentThread", "main_thread", "get_ident", "get_native_id",
                    "RLock", "Lock", "_newname"):
            return NONE_ACCESS
        if name in ("active_count", "activeCount", "enumerate"):
            # They read every thread's registration: ordered against every start and end.
            return _unknown(f"threading.{name}")
    return None


def _builtin_function_model(f: Any, name: str, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    recv = getattr(f, "__self__", None)
    modname = getattr(recv, "__name__", None) if isinstance(recv, types.ModuleType) else getattr(f, "__module__", None)
    if modname == "builtins" or recv is builtins:
        if name == "print":
            return Access("write", ((IO, True), *_arg_reads(list(pos))), name="print", space="")
        if name in ("setattr", "delattr") and len(pos) >= 2:
            obj, attr = pos[0], pos[1]
            if isinstance(attr, str):
                return _attr_access(obj, attr, True)
            return _unknown("setattr with an unknown name")
        if name == "getattr" and len(pos) >= 2 and isinstance(pos[1], str):
            return _attr_access(pos[0], pos[1], False)
        if name == "vars":
            if len(pos) != 1 or pos[0] is UNKNOWN or isinstance(pos[0], _Abstract):
                return _unknown("vars()")
            return _attr_access(pos[0], "__dict__", False)
        if name == "next":
            if pos:
                return _iterate_access(pos[0], iterator=True)
            return _unknown("next()")
        if name in _PURE_BUILTINS:
            if name in ("iter", "enumerate", "zip", "reversed", "filter", "map", "range", "slice",
                        "object", "super", "type", "callable", "id", "isinstance", "issubclass"):
                if name in ("map", "filter") and pos and not (_python_user_callable(pos[0]) or pos[0] is None
                                                              or type(pos[0]) is types.BuiltinFunctionType):
                    return _unknown(f"{name} with a callable not under test")
                return NONE_ACCESS
            locs = _arg_reads(list(pos) + list(kwargs.values()))
            if any(_user_dunder_call(v) is False for v in pos):
                return _unknown(f"{name}() on an object whose methods the harness cannot see")
            return Access("read", tuple(locs), name=name, space="") if locs else NONE_ACCESS
        return _unknown(f"builtin {name}")
    if modname in ("math", "cmath", "operator", "_operator") and all(is_immutable(v) for v in pos):
        return NONE_ACCESS
    if modname in ("_thread", "threading") and name in ("get_ident", "get_native_id"):
        return NONE_ACCESS
    if modname in ("_random",) or (recv is not None and type(recv).__name__ == "Random"):
        return Access("write", ((("o", id(recv)), True),), name=name, space="object")
    return _unknown(f"{modname}.{name}")


def _user_dunder_call(v: Any) -> Optional[bool]:
    """For a user object passed to len/str/...: True if its dunders are code under test."""
    if v is UNKNOWN or isinstance(v, _Abstract) or is_immutable(v):
        return None
    tc = type(v)
    if tc in _CONTAINERS or tc.__module__ == "builtins":
        return None
    for n in ("__len__", "__str__", "__repr__", "__hash__", "__eq__", "__lt__", "__iter__", "__format__",
              "__index__", "__int__", "__float__", "__bool__"):
        impl = _type_lookup(tc, n)
        if impl is _MISSING or _owner(tc, n) is object:
            continue
        if _func_home(impl) != "user":
            return False
    return True


def _builtin_method_model(recv: Any, name: str, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    tr = type(recv)
    if tr in (types.GeneratorType, types.CoroutineType) and name in ("send", "throw", "close", "__next__"):
        return _resume_access(recv, name)
    args = list(pos) + list(kwargs.values())
    if tr in (str, bytes, tuple, frozenset, int, float, complex, range) or recv is None:
        locs = _arg_reads(args) if name in _ARG_READING_METHODS or name in ("join", "format") else []
        return Access("read", tuple(locs), name=name, space="") if locs else NONE_ACCESS
    if tr in _CONTAINERS or tr.__name__ in ("dict_keys", "dict_values", "dict_items"):
        reading = name in _READ_METHODS
        extra = _arg_reads(args) if name in _ARG_READING_METHODS else []
        if tr in _DICTS and name in _KEYED_METHODS and pos and is_immutable(pos[0]) and not (
                tr is defaultdict and name in ("__getitem__",)):
            loc = ("i", id(recv), pos[0])
            return Access("call", ((loc, not reading), *extra), obj=recv, name=name, space="method")
        if name in ("keys", "values", "items", "__iter__", "copy") and tr in _DICTS + (list, set, deque):
            if name != "copy":
                return NONE_ACCESS  # a view or iterator: reading happens when it is iterated
        return Access("call", ((("k", id(recv)), not reading), *extra), obj=recv, name=name, space="method")
    if isinstance(recv, random.Random):
        return Access("write", ((("o", id(recv)), True),), obj=recv, name=name, space="object")
    if isinstance(recv, types.ModuleType):
        return _builtin_function_model(getattr(recv, name, None), name, pos, kwargs)
    return _unknown(f"{tr.__name__}.{name}")


def _class_call_model(cls: type, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    import queue
    import threading

    if cls.__module__ == "builtins":
        if cls in (object, type(None)) or cls is super or cls is type:
            return NONE_ACCESS
        if cls in (int, float, complex, bool, str, bytes, range, slice, tuple, frozenset, list, dict, set,
                   bytearray, enumerate, zip, reversed, filter, map, memoryview, property, staticmethod,
                   classmethod):
            if cls in (enumerate, zip, reversed):
                return NONE_ACCESS
            if cls in (map, filter) and pos and not (_python_user_callable(pos[0]) or pos[0] is None
                                                     or type(pos[0]) is types.BuiltinFunctionType):
                return _unknown(f"{cls.__name__} with a callable not under test")
            if cls in (map, filter, property, staticmethod, classmethod):
                return NONE_ACCESS
            locs = _arg_reads(list(pos) + list(kwargs.values()))
            if any(_user_dunder_call(v) is False for v in pos):
                return _unknown(f"{cls.__name__}() on an object whose methods the harness cannot see")
            return Access("read", tuple(locs), name=cls.__name__, space="") if locs else NONE_ACCESS
        return _unknown(f"{cls.__name__}()")
    if cls in (Lock, SimpleQueue, threading.Condition, threading.Event, threading.Semaphore,
               threading.BoundedSemaphore, threading.Barrier, queue.Queue, queue.LifoQueue,
               queue.PriorityQueue, deque, OrderedDict, defaultdict) or cls is getattr(threading, "_PyRLock", None):
        return NONE_ACCESS  # a fresh object: nobody else can see it yet
    if issubclass(cls, threading.Thread):
        init = _type_lookup(cls, "__init__")
        if _func_home(init) == "user":
            return Access("call", NOTHING, name=cls.__name__)
        # Thread() draws its name from threading's counter: the order of creation is observable.
        return Access("write", ((("i", id(threading.__dict__), "_counter"), True),), name="Thread", space="")
    meta = type(cls)
    if meta is not type:
        mcall = _type_lookup(meta, "__call__")
        if mcall is not _MISSING and _owner(meta, "__call__") is not type and _func_home(mcall) != "user":
            return _unknown(f"{cls.__name__}() with metaclass {meta.__name__}")
    for hook in ("__new__", "__init__"):
        impl = _type_lookup(cls, hook)
        owner = _owner(cls, hook)
        if owner is object or impl is _MISSING:
            continue
        if _func_home(impl if type(impl) is not staticmethod else impl.__func__) == "user":
            continue
        if owner in (Exception, BaseException) or (isinstance(owner, type) and issubclass(owner, BaseException)
                                                    and owner.__module__ == "builtins"):
            continue
        if owner in (dict, list, set, tuple, str, int, float, bytes, frozenset, deque, OrderedDict, defaultdict):
            locs = _arg_reads(list(pos) + list(kwargs.values()))
            return Access("read", tuple(locs), name=cls.__name__, space="") if locs else NONE_ACCESS
        return _unknown(f"{cls.__name__}() runs code the harness cannot see")
    return Access("call", NOTHING, name=cls.__name__)


def _call_result(spec: Spec, frame: FrameType, memo: Any) -> Any:
    """What a call returns, as far as the harness can tell without running it."""
    vals = [_val(d, frame, memo) for d in spec.args]
    callee, args = vals[0], vals[1:]
    if callee is UNKNOWN or isinstance(callee, _Abstract):
        return UNKNOWN
    tcal = type(callee)
    if tcal is types.BuiltinFunctionType:
        recv = getattr(callee, "__self__", None)
        name = callee.__name__
        if recv is builtins or recv is None:
            if name in _IMM_RESULT:
                return IMM
            if name in _FRESH_RESULT:
                return FRESH
            if name in _LAZY_RESULT:
                return Lazy(tuple(a for a in args if not callable(a) or a is UNKNOWN))
            if name == "super" and not args:
                return _call_result_super(frame)
            return UNKNOWN
        tr = type(recv)
        if tr in _DICTS and name in ("keys", "values", "items"):
            return Lazy((recv,))
        if tr in (list, set, deque) + _DICTS and name in ("copy",):
            return FRESH
        if tr in (str, bytes) and name not in ("split", "rsplit", "splitlines", "partition", "rpartition"):
            return IMM
        return UNKNOWN
    if isinstance(callee, type):
        if callee in (int, float, complex, bool, str, bytes, frozenset):
            return IMM
        if callee in (range,):
            return IMM
        if callee.__module__ == "builtins" and callee in (list, dict, set, tuple, bytearray):
            return FRESH
        if callee in (enumerate, zip, reversed):
            return Lazy(tuple(args))
        if callee is super and not args:
            return _call_result_super(frame)
        return FRESH if callee.__module__ in ("threading", "queue") else UNKNOWN
    return UNKNOWN


def _call_result_super(frame: FrameType) -> Any:
    code = frame.f_code
    if code.co_argcount:
        loc = _locals(frame)
        obj = loc.get(code.co_varnames[0], UNKNOWN)
        cls = loc.get("__class__", UNKNOWN)
        if isinstance(cls, type) and obj is not UNKNOWN:
            return Super(cls, obj)
    return UNKNOWN


def sync_access(op: Any) -> Access:
    """The access of a synchronisation switch point ``op`` (the runtime's op tuple)."""
    if not isinstance(op, tuple) or not op:
        return _unknown(f"operation {op!r}")
    name = op[0]
    target = op[1] if len(op) > 1 else None
    if name in ("acquire", "release"):
        return Access("sync", ((("s", id(target)), True),), obj=target, name=name, space="sync",
                      sync=(name, target), block=("lock", target) if name == "acquire" else None)
    if name in ("put", "get"):
        return Access("sync", ((("s", id(target)), True),), obj=target, name=name, space="sync",
                      sync=(name, target), block=("nonempty", target) if name == "get" else None)
    if name == "sleep":
        # Registering a deadline reads the clock; only a timeout firing moves it.
        return Access("sync", ((CLOCK, False),), name=f"sleep({target})", space="", sync=None)
    if name == "switch":
        return Access("none", NOTHING, name="switch()")
    if name == "start":
        what = target
        if what is not None and _python_user_callable(what):
            return NONE_ACCESS
        return _unknown("thread start running code not under test")
    if name == "end":
        return Access("none", NOTHING, name="end")
    return _unknown(f"operation {name}")


def visible(code: CodeType, model: str = "instruction") -> FrozenSet[int]:
    """The visible offsets of ``code`` (re-exported for the strategies)."""
    return visible_offsets(code, model)
