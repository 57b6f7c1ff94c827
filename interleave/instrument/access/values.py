"""Reading values without running user code: attributes, their shapes, instance dicts, the code filter.

Values are read from instance dictionaries, slots and class attributes only; a property or
``__getattr__`` makes the value UNKNOWN. Which code is "under test" (its getters and dunders
are switch points of their own, not opaque) is the session's filter, set by the tracker.
"""

from __future__ import annotations

import dis
import types
import weakref
from _thread import _local as _thread_local
from collections import defaultdict, deque
from types import CodeType
from typing import Any, Callable, Dict, Optional, Tuple

from .vocabulary import IMM_TYPES, UNKNOWN, Abstract, ByObject, Lazy, Super

MISSING: Any = object()
DATA_SAFE = (types.MemberDescriptorType, types.GetSetDescriptorType)
_object_getattribute = object.__getattribute__
_type_getattribute = type.__getattribute__
_object_setattr = object.__setattr__


# Builtin types whose own ``__getattribute__`` slot is the generic one (they define it in C only
# so that the type has the slot): attribute reads on them run no code.
_GENERIC_GET_OWNERS = frozenset((object, list, dict, set, frozenset, tuple, str, bytes, bytearray, int,
                                 float, complex, bool, range, slice, deque, defaultdict, memoryview,
                                 types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType))
_generic_get_cache = ByObject()  # id(type) -> bool


def generic_getattr(tp: type) -> bool:
    """Whether reading an attribute of a ``tp`` instance runs no Python code of its own."""
    hit = _generic_get_cache.get(id(tp))
    if hit is None:
        owner = owner_of(tp, "__getattribute__")
        hit = owner in _GENERIC_GET_OWNERS
        _generic_get_cache.put(tp, id(tp), hit)
    return hit


def owner_of(tc: type, name: str) -> Any:
    """The class of ``tc``'s MRO that defines ``name`` (None if none does)."""
    for klass in tc.__mro__:
        if name in klass.__dict__:
            return klass
    return None


def type_lookup(tp: type, name: str) -> Any:
    """``name`` in the dicts of ``tp``'s MRO, as the interpreter finds it; MISSING if absent."""
    for klass in tp.__mro__:
        d = klass.__dict__
        if name in d:
            return d[name]
    return MISSING


# (id(type), name) -> True: an instance attribute with nothing on the class that could intercept
# it; or the plain function the class defines under that name (a method: the instance's own
# value if it holds one, else the bound method).
_PLAIN_VALUE = ByObject()


def attr_value(obj: Any, name: str) -> Any:
    """``getattr(obj, name)`` without running any Python code; UNKNOWN where that is impossible."""
    tp = type(obj)
    plan = _PLAIN_VALUE.get((id(tp), name))
    if plan is True:
        try:
            return _object_getattribute(obj, "__dict__")[name]
        except (KeyError, AttributeError, TypeError):
            pass
    elif plan is not None:
        d = _own_dict(obj)
        if d is not None and name in d:
            return d[name]
        return types.MethodType(plan, obj)
    v = _attr_value(obj, name)
    if plan is None and tp is not type and tp is not Lazy and tp is not Super \
            and not issubclass(type(obj), (type, types.ModuleType, Abstract)) and generic_getattr(tp):
        descr = type_lookup(tp, name)
        if descr is MISSING:
            if type_lookup(tp, "__getattr__") is MISSING and has_instance_attr(obj, name):
                _PLAIN_VALUE.put(tp, (id(tp), name), True)
        elif type(descr) is types.FunctionType:
            _PLAIN_VALUE.put(tp, (id(tp), name), descr)
    return v


# The ``threading.local`` classes that keep its lookup, met so far -> whether their per-thread
# set-up runs no code (no ``__init__`` of their own).
LOCAL_TYPES: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()
_local_getattribute = _thread_local.__getattribute__


# id(code) -> whether the code may rebind its first parameter (``self = ...``).
_REBINDS_FIRST = ByObject()
_TYPE_CALL = type.__dict__["__call__"]


def constructor_init(cls: type) -> Optional[CodeType]:
    """The code of ``cls.__init__`` when calling ``cls`` returns the ``self`` that ``__init__``
    starts with: ``type.__call__`` with ``object.__new__``, a Python ``__init__`` that never
    rebinds its first parameter. None otherwise."""
    if type_lookup(type(cls), "__call__") is not _TYPE_CALL or owner_of(cls, "__new__") is not object:
        return None
    init = type_lookup(cls, "__init__")
    if type(init) is not types.FunctionType:
        return None
    code = init.__code__
    if not code.co_argcount:
        return None
    rebinds = _REBINDS_FIRST.get(id(code))
    if rebinds is None:
        first = code.co_varnames[0]
        rebinds = any(i.opname in ("STORE_FAST", "DELETE_FAST", "STORE_DEREF", "DELETE_DEREF",
                                   "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST")
                      and (i.argval == first or (type(i.argval) is tuple and first in i.argval))
                      for i in dis.get_instructions(code))
        _REBINDS_FIRST.put(code, id(code), rebinds)
    return None if rebinds else code


def local_kind(tp: type) -> Optional[bool]:
    """For ``threading.local`` and subclasses that change none of its lookup hooks: True if a
    thread's first access runs no code (its empty dict is made), False if it runs the class's
    ``__init__``; None for any other class."""
    hit = LOCAL_TYPES.get(tp)
    if hit is not None:
        return hit
    if not issubclass(tp, _thread_local):
        return None
    for hook in ("__getattribute__", "__setattr__", "__delattr__", "__getattr__"):
        if owner_of(tp, hook) not in (_thread_local, object, None):
            return None
    hit = LOCAL_TYPES[tp] = owner_of(tp, "__init__") in (_thread_local, object)
    return hit


def local_slot_value(obj: Any, name: str) -> Any:
    """``obj.name`` for a :func:`local_kind` ``obj``, from the calling thread's dict or, failing
    that, a method or plain attribute of its class; UNKNOWN otherwise. The caller makes sure
    that the calling thread is the one that runs the load
    and, unless the class has no ``__init__``, that this thread's dict exists already."""
    try:
        d = _local_getattribute(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return UNKNOWN
    if name in d:
        return d[name]
    descr = type_lookup(type(obj), name)  # not the thread's own: the class's (a method, a default)
    if type(descr) is types.FunctionType:
        return types.MethodType(descr, obj)
    if descr is not MISSING and not hasattr(type(descr), "__get__"):
        return descr
    return UNKNOWN


def _attr_value(obj: Any, name: str) -> Any:
    if obj is UNKNOWN or issubclass(type(obj), Abstract) or type(obj) is Lazy:
        return UNKNOWN
    if type(obj) is Super:
        return super_attr(obj, name)
    if issubclass(type(obj), types.ModuleType):
        return obj.__dict__.get(name, UNKNOWN)
    tp = type(obj)
    if issubclass(type(obj), type):
        if tp is not type and tp.__getattribute__ is not _type_getattribute:
            return UNKNOWN
        meta = type_lookup(tp, name) if tp is not type else MISSING
        if meta is not MISSING and hasattr(type(meta), "__set__"):
            return UNKNOWN
        for klass in obj.__mro__:
            d = klass.__dict__
            if name in d:
                v = d[name]
                vt = type(v)
                if vt is types.FunctionType or vt is property or issubclass(type(v), IMM_TYPES):
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
        return UNKNOWN if meta is MISSING else meta
    if not generic_getattr(tp):
        return UNKNOWN
    descr = type_lookup(tp, name)
    if descr is not MISSING:
        dt = type(descr)
        if hasattr(dt, "__set__") or hasattr(dt, "__delete__"):
            if dt in DATA_SAFE:
                try:
                    return descr.__get__(obj, tp)
                except Exception:  # noqa: BLE001 - an unset slot raises AttributeError
                    return UNKNOWN
            return UNKNOWN
    idict = _own_dict(obj)
    if idict is not None and name in idict:
        return idict[name]
    if descr is MISSING:
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


def super_attr(sup: Super, name: str) -> Any:
    """``super().name`` without running code; UNKNOWN where that is impossible."""
    obj = sup.obj
    tp = obj if issubclass(type(obj), type) else type(obj)
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
                return v if issubclass(type(obj), type) else types.MethodType(v, obj)
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


def attr_shape(obj: Any, name: str) -> str:
    """How ``obj.name`` is found: plain | module | code (a Python getter) | opaque."""
    tp = type(obj)
    if issubclass(type(obj), types.ModuleType):
        return "module"
    if not issubclass(type(obj), type) and not generic_getattr(tp):
        return "opaque:" + func_home(tp.__getattribute__)
    if issubclass(type(obj), type):
        return "plain"
    descr = type_lookup(tp, name)
    if descr is MISSING:
        ga = type_lookup(tp, "__getattr__")
        if ga is not MISSING and not has_instance_attr(obj, name):
            return "opaque:" + func_home(ga)
        return "plain"
    dt = type(descr)
    if dt is property:
        return "opaque:" + func_home(descr.fget)
    if (hasattr(dt, "__set__") or hasattr(dt, "__delete__")) and dt not in DATA_SAFE:
        return "opaque:" + func_home(getattr(dt, "__get__", None))
    get = python_get(dt)
    if get is not None and not has_instance_attr(obj, name):
        # A non-data descriptor written in Python (functools.cached_property): its ``__get__``
        # runs, unless the instance's own attribute shadows it.
        return "opaque:" + func_home(get)
    return "plain"


def python_get(dt: type) -> Any:
    """The ``__get__`` of descriptor type ``dt`` if it is Python code, else None."""
    get = type_lookup(dt, "__get__")
    return get if type(get) is types.FunctionType else None


def _own_dict(obj: Any) -> Optional[dict]:
    """``obj``'s instance dict, read without running its code; None if it has no plain one."""
    try:
        d = _object_getattribute(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return None
    return d if type(d) is dict else None


def has_instance_attr(obj: Any, name: str) -> bool:
    """Whether ``obj``'s instance dict holds ``name``."""
    d = _own_dict(obj)
    return d is not None and name in d


def func_home(f: Any) -> str:
    """``user`` if ``f`` is Python code under test, ``stdlib`` for threading/queue, else ``other``."""
    code = getattr(f, "__code__", None)
    if code is not None and _wants(code):
        return "user"
    if getattr(f, "__module__", None) in ("threading", "queue"):
        return "stdlib"
    return "other"


def store_shape(obj: Any, name: str) -> str:
    """How ``obj.name = v`` is stored: plain | module | opaque:<where its setter's code is>."""
    tp = type(obj)
    if issubclass(type(obj), types.ModuleType):
        return "module"
    sa = tp.__setattr__
    if sa is not _object_setattr and not issubclass(type(obj), type):
        return "opaque:" + func_home(sa)
    descr = type_lookup(tp, name) if not issubclass(type(obj), type) else MISSING
    if descr is not MISSING:
        dt = type(descr)
        if dt is property:
            return "opaque:" + func_home(descr.fset)
        if hasattr(dt, "__set__") and dt not in DATA_SAFE:
            return "opaque:" + func_home(dt.__set__)
    return "plain"


# Which code is "under test" (its own instructions are switch points). Set by the tracker from
# the session's filter; the default rule otherwise.
def _default_wants(code: CodeType) -> bool:
    from ..filter import is_user_code_file

    return is_user_code_file(code.co_filename)


_wants: Callable[[CodeType], bool] = _default_wants


def under_test(code: CodeType) -> bool:
    """Whether ``code`` is instrumented, by the current code filter."""
    return _wants(code)


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
        SHAPES.reset()
    _wants = wants


# (id(type), name, write) -> how such an access behaves (the models' cache). Depends on the code filter (is a getter
# code under test?): set_code_filter empties it for each new filter.
SHAPES = ByObject()


def python_user_callable(f: Any) -> bool:
    """Whether ``f`` is a Python function (or method) of code under test."""
    if type(f) is types.MethodType:
        f = f.__func__
    code = getattr(f, "__code__", None) if type(f) is types.FunctionType else None
    return code is not None and _wants(code)


def callable_name(f: Any) -> str:
    """A name of ``f`` for descriptions."""
    if f is UNKNOWN or issubclass(type(f), Abstract):
        return "an unknown callable"
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__


# id(d) -> (d, obj) for each instance dict ``d`` of ``obj`` read in the current execution (kept
# alive so that the ids stay unique; emptied by AccessTracker.forget).
ALIASES: Dict[int, Tuple[Any, Any]] = {}


def note_instance_dict(obj: Any) -> None:
    """``obj``'s ``__dict__`` was read: accesses through that dict touch ``obj``'s attributes."""
    if issubclass(type(obj), (types.ModuleType, type, Abstract)):
        return  # a module's attributes are its dict's items already; a class's dict is a proxy
    try:
        d = _object_getattribute(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return
    if type(d) is dict or issubclass(type(d), dict):
        ALIASES[id(d)] = (d, obj)
