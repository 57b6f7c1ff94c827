"""Access models of calls: functions under test, builtins, builtin methods, classes, ``with``.

A call into code under test touches nothing itself (its body has switch points of its own); a
call the models do not know runs code the harness cannot see and touches everything.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import random
import re
import threading
import types
from collections import OrderedDict, defaultdict, deque
from typing import Any, Dict, List, Optional, Tuple

from ..filter import HARNESS_DIR
from .models import attr_access, class_read_locs, get_iter_access, iterate_access, resume_access, shallow_state
from .primitives import interleave_call, is_sync_class, module_function_model, sync_method_model
from .record import NONE_ACCESS, Access, unknown
from .stdlib import consume_model, itertools_model, match_model, re_model, reduce_model
from .values import MISSING, callable_name, func_home, owner_of, python_user_callable, type_lookup, under_test
from .vocabulary import (
    ANY_DATA,
    CONTAINERS,
    DICTS,
    EVERYTHING,
    FRESH,
    IMM,
    IMM_TYPES,
    IO,
    NEW_GEN,
    NOTHING,
    NULL,
    UNKNOWN,
    Abstract,
    Instance,
    Lazy,
    Loc,
    is_immutable,
)


def with_access(cm: Any) -> Access:
    """A ``with cm:`` set-up: what calling ``cm.__enter__`` touches."""
    if type(cm) is Instance:
        # A new object of a known class (``with Manager():``): its own __enter__, if under test;
        # a @contextmanager's runs the generator function it was made from.
        if cm.runs is not None:
            if python_user_callable(cm.runs):
                return Access("call", NOTHING, name=callable_name(cm.runs), space="object")
            return unknown(f"with {callable_name(cm.runs)}()")
        enter = type_lookup(cm.cls, "__enter__")
        if enter is not MISSING and func_home(enter) == "user":
            return Access("call", NOTHING, name="__enter__", space="object")
        return unknown(f"with {cm.cls.__name__}")
    if cm is UNKNOWN or issubclass(type(cm), Abstract):
        return unknown("with on an unknown object")
    tc = type(cm)
    enter = type_lookup(tc, "__enter__")
    if enter is MISSING:
        return NONE_ACCESS  # raises
    if _interleave_code(enter):
        return NONE_ACCESS  # our Lock: the acquire is a switch point of its own
    if func_home(enter) == "user":
        return Access("call", NOTHING, obj=cm, name="__enter__", space="object")
    model = sync_method_model(cm, "__enter__", (), {}, enter)
    if model is not None:
        return model
    return unknown(f"with {tc.__name__}")


def _interleave_code(f: Any) -> bool:
    """Whether ``f`` is interleave's own code: calls into it have models of their own."""
    code = getattr(f, "__code__", None)
    if code is None:
        f2 = getattr(f, "__func__", None)
        code = getattr(f2, "__code__", None)
    if code is None:
        return False
    return code.co_filename.startswith(HARNESS_DIR)


_PURE_BUILTINS = frozenset("""len isinstance issubclass id hash abs min max sum sorted any all repr ascii
format callable hasattr divmod pow round ord chr bin hex oct type bool int float str bytes tuple list
dict set frozenset complex range slice enumerate zip reversed iter filter map object super getattr
vars dir""".split())
FRESH_RESULT = frozenset("sorted list dict set tuple bytearray".split())
IMM_RESULT = frozenset("len isinstance issubclass id hash abs repr ascii format callable hasattr divmod "
                        "pow round ord chr bin hex oct bool int float str bytes complex frozenset".split())
LAZY_RESULT = frozenset("enumerate zip reversed iter filter map".split())
# Builtins and methods that iterate an argument (the ones ``_arg_reads`` is asked about).
_ITERATING = frozenset("""min max sum sorted any all tuple list dict set frozenset bytes bytearray extend
update __iadd__ __ior__ union intersection difference symmetric_difference issubset issuperset
isdisjoint join intersection_update difference_update symmetric_difference_update extendleft""".split())
_ITERATING_CLASSES = (tuple, list, dict, set, frozenset, bytes, bytearray)

_READ_METHODS = frozenset("""get keys values items copy count index __contains__ __len__ __getitem__
__iter__ issubset issuperset isdisjoint union intersection difference symmetric_difference
startswith endswith find rfind join split rsplit strip lstrip rstrip format replace lower upper
encode decode hex __eq__ __ne__ __lt__ __le__ __gt__ __ge__ __repr__ __str__ __hash__""".split())
_KEYED_METHODS = frozenset("get pop setdefault __getitem__ __setitem__ __delitem__ __contains__".split())
# Builtin methods that compare the receiver's items (``==`` or ``<``), reading inside them.
_COMPARING_METHODS = frozenset("count index remove __contains__ sort __eq__ __ne__ __lt__ __le__ __gt__ "
                               "__ge__".split())
_ARG_READING_METHODS = frozenset("extend update __iadd__ __ior__ union intersection difference "
                                 "symmetric_difference issubset issuperset isdisjoint join __eq__ "
                                 "intersection_update difference_update symmetric_difference_update "
                                 "extendleft __contains__ count index remove".split())


def _arg_reads(vals: List[Any], shallow: bool = False, iterates: bool = False) -> List[Tuple[tuple, bool]]:
    """What a builtin reads of its arguments. ``shallow``: it only collects the items of an
    iterable (``list(it)``, ``xs.extend(it)``), it never reads inside them. ``iterates``: it
    iterates them, so an unknown one may be a library's generator, whose code runs unseen."""
    locs: List[Tuple[tuple, bool]] = []
    for v in vals:
        if v is FRESH or v is IMM or v is NULL or is_immutable(v):
            continue
        if v is NEW_GEN:
            # Its points are seen; what it yields, a builtin that is not ``shallow`` may look
            # into (``any`` tests its truth, ``sum`` adds it): any data.
            if not shallow:
                locs.append((ANY_DATA, False))
            continue
        if type(v) is Lazy and shallow:
            # ``list(map(f, xs))``: iterating reads the iterables (f is code under test).
            a = consume_model(v, "")
            if a is not None:
                locs.extend(a.locs)
                continue
        if v is UNKNOWN and iterates:
            locs.append(EVERYTHING[0])  # ``list(executor.map(f, xs))``: waits on futures
            continue
        if v is UNKNOWN or type(v) is Lazy:
            locs.append((ANY_DATA, False))
            continue
        tc = type(v)
        if tc in CONTAINERS or tc in (tuple, frozenset):
            sh = shallow_state(v)
            if sh is None:
                locs.append((ANY_DATA, False))
            else:
                locs.extend((loc, False) for loc in sh)
            continue
        if (tc is types.BuiltinMethodType or tc.__name__ == "method-wrapper") and \
                not issubclass(type(getattr(v, "__self__", None)), (types.ModuleType, type, type(None))):
            # ``key=d.get``, ``key=xs.index``: the builtin calls it, which reads its receiver.
            locs.extend(_builtin_method_model(v.__self__, v.__name__, [UNKNOWN], {}).locs)
            continue
        if issubclass(type(v), (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.ModuleType)):
            continue
        if tc is types.GeneratorType:
            # ``list(gen)``, ``sum(gen)``, ``xs.extend(gen)``: the builtin runs the generator.
            locs.extend(resume_access(v, "__next__").locs)
            continue
        if _is_builtin_wrapper(tc):
            locs.extend(_wrapper_locs(v, shallow, 4))
            continue
        locs.append(((Loc.OBJECT, id(v)), False))
    return locs


_WRAPPER_MODULES = frozenset(("builtins", "itertools", "_collections", "collections"))
_CALLABLE_TYPES = (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.ModuleType)


def _is_builtin_wrapper(tc: type) -> bool:
    """An iterator, view or proxy of the standard library (``iter(xs)``, ``d.keys()``, ``zip``,
    ``memoryview``, ``MappingProxyType``): C objects with no state of their own but a position."""
    return tc.__module__ in _WRAPPER_MODULES and type_lookup(tc, "__dict__") is MISSING \
        and tc not in CONTAINERS and tc is not tuple and not issubclass(tc, IMM_TYPES)


def _wrapper_locs(v: Any, shallow: bool, depth: int) -> List[Tuple[tuple, bool]]:
    """What a builtin touches through ``v``, a wrapper: taking an iterator's items changes it, and
    both read what they wrap (found by the collector's referents: the list an iterator walks,
    the dict a view shows, the iterators a ``zip`` draws from)."""
    locs: List[Tuple[tuple, bool]] = [((Loc.OBJECT, id(v)), type_lookup(type(v), "__next__") is not MISSING)]
    for r in gc.get_referents(v):
        locs.extend(_wrapped_locs(r, shallow, depth - 1))
    return locs


def _wrapped_locs(r: Any, shallow: bool, depth: int) -> List[Tuple[tuple, bool]]:
    if is_immutable(r) or issubclass(type(r), _CALLABLE_TYPES):
        return []
    if depth <= 0:
        return [(ANY_DATA, False)]
    tc = type(r)
    if tc is tuple:  # a zip's or map's iterators
        out: List[Tuple[tuple, bool]] = []
        for x in r[:16]:
            out.extend(_wrapped_locs(x, shallow, depth))
        return out if len(r) <= 16 else out + [(ANY_DATA, False)]
    if tc in CONTAINERS or tc is frozenset:
        if shallow or shallow_state(r) is not None:
            return [((Loc.ITEMS, id(r)), False)]
        return [((Loc.ITEMS, id(r)), False), (ANY_DATA, False)]  # it may read inside the items too
    if tc is types.GeneratorType:
        return list(resume_access(r, "__next__").locs)
    if _is_builtin_wrapper(tc):
        return _wrapper_locs(r, shallow, depth)
    return [((Loc.OBJECT, id(r)), False), (ANY_DATA, False)]


# What calling a function decorated with @contextlib.contextmanager runs (contextlib's helper),
# and the class of what it returns.
CONTEXTMANAGER_CALL = contextlib.contextmanager(lambda: iter(())).__code__
GENERATOR_MANAGER: type = contextlib._GeneratorContextManager  # type: ignore[attr-defined]


def call_model(callee: Any, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    """The access of calling ``callee(*pos, **kwargs)`` (values may be abstract)."""
    if callee is FRESH:
        # A function this frame just made (MAKE_FUNCTION): its code is this module's, under test.
        return Access("call", NOTHING, name="<function>")
    if callee is UNKNOWN or issubclass(type(callee), Abstract):
        return unknown("call of an unknown callable")
    tcal = type(callee)
    maker = callee.__func__ if tcal is types.MethodType else callee  # a @contextmanager method too
    if type(maker) is types.FunctionType and maker.__code__ is CONTEXTMANAGER_CALL \
            and python_user_callable(maker.__wrapped__):  # type: ignore[attr-defined]
        # A new manager holding a new generator of code under test: nothing runs yet.
        return Access("call", NOTHING, name=callable_name(callee))
    if tcal is types.FunctionType or tcal is types.MethodType:
        func = callee.__func__ if tcal is types.MethodType else callee
        code = getattr(func, "__code__", None)
        if code is not None and under_test(code):
            return Access("call", NOTHING, name=callable_name(callee))
        if _interleave_code(func):
            return interleave_call(callee, pos, kwargs)
        if tcal is types.MethodType:
            model = sync_method_model(callee.__self__, func.__name__, pos, kwargs, func)
            if model is not None:
                return model
        model = module_function_model(func, pos, kwargs)
        if model is not None:
            return model
        if getattr(func, "__module__", None) == "re" and tcal is types.FunctionType:
            model = re_model(func.__name__, pos, kwargs)
            if model is not None:
                return model
        return unknown(f"call of {callable_name(callee)} (code not under test)")
    if tcal is types.BuiltinFunctionType or tcal is types.BuiltinMethodType:
        recv = getattr(callee, "__self__", None)
        name = callee.__name__
        if recv is None or issubclass(type(recv), types.ModuleType):
            return _builtin_function_model(callee, name, pos, kwargs)
        return _builtin_method_model(recv, name, pos, kwargs)
    if issubclass(type(callee), type):
        return _class_call_model(callee, pos, kwargs)
    if tcal.__name__ == "method-wrapper":
        recv = getattr(callee, "__self__", None)
        return _builtin_method_model(recv, callee.__name__, pos, kwargs)
    if tcal is __import__("functools").partial:
        inner = call_model(callee.func, list(callee.args) + list(pos), {**callee.keywords, **kwargs})
        return inner
    call = type_lookup(tcal, "__call__")
    if call is not MISSING and func_home(call) == "user":
        return Access("call", NOTHING, name=callable_name(callee))
    return unknown(f"call of {callable_name(callee)}")


def _builtin_function_model(f: Any, name: str, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    recv = getattr(f, "__self__", None)
    modname = getattr(recv, "__name__", None) if issubclass(type(recv), types.ModuleType) \
        else getattr(f, "__module__", None)
    if modname == "builtins" or recv is builtins:
        if name == "print":
            return Access("write", ((IO, True), *_arg_reads(list(pos))), name="print", space="")
        if name in ("setattr", "delattr") and len(pos) >= 2:
            obj, attr = pos[0], pos[1]
            if issubclass(type(attr), str):
                return attr_access(obj, attr, True)
            return unknown("setattr with an unknown name")
        if name in ("getattr", "hasattr") and len(pos) >= 2 and issubclass(type(pos[1]), str):
            return attr_access(pos[0], pos[1], False)
        if name == "dir" and len(pos) == 1:
            return _dir_access(pos[0])
        if name == "vars":
            if len(pos) != 1 or pos[0] is UNKNOWN or issubclass(type(pos[0]), Abstract):
                return unknown("vars()")
            return attr_access(pos[0], "__dict__", False)
        if name == "next":
            if pos:
                return iterate_access(pos[0], iterator=True)
            return unknown("next()")
        if name in _PURE_BUILTINS:
            if name == "iter" and len(pos) == 1:
                return _iterators_made(pos)
            if name in ("type", "isinstance", "callable") and len(pos) in (1, 2) and _class_can_change(pos[0]):
                # Another thread may assign ``obj.__class__`` (or the class's ``__call__``).
                acc = attr_access(pos[0], "__class__", False)
                if name == "callable":
                    acc = Access("read", acc.locs + class_read_locs(type(pos[0]), "__call__"), name=name, space="")
                return acc
            if name in ("iter", "enumerate", "zip", "reversed", "filter", "map", "range", "slice",
                        "object", "super", "type", "callable", "id", "isinstance", "issubclass"):
                if name in ("map", "filter") and pos and not (python_user_callable(pos[0]) or pos[0] is None
                                                              or type(pos[0]) is types.BuiltinFunctionType):
                    return unknown(f"{name} with a callable not under test")
                return NONE_ACCESS
            locs = _arg_reads(list(pos) + list(kwargs.values()), iterates=name in _ITERATING)
            if any(_user_dunder_call(v) is False for v in pos):
                return unknown(f"{name}() on an object whose methods the harness cannot see")
            return Access("read", tuple(locs), name=name, space="") if locs else NONE_ACCESS
        return unknown(f"builtin {name}")
    if modname in ("math", "cmath", "operator", "_operator") and all(is_immutable(v) for v in pos):
        return NONE_ACCESS
    if modname in ("_thread", "threading") and name in ("get_ident", "get_native_id"):
        return NONE_ACCESS
    if modname in ("_functools", "functools") and name == "reduce":
        model = reduce_model(pos, kwargs)
        if model is not None:
            return model
    if modname in ("_random",) or (recv is not None and type(recv).__name__ == "Random"):
        return Access("write", (((Loc.OBJECT, id(recv)), True),), name=name, space="object")
    return unknown(f"{modname}.{name}")


def star_args_access(callee: Any, star_kw: List[Any]) -> Access:
    """``callee(*star, **kw)`` of a function under test: the call itself gathers the arguments,
    drawing every item of ``star`` (an iterator is used up) and reading ``kw``'s items."""
    locs = _arg_reads([v for v in star_kw if v is not NULL and type(v) is not tuple], shallow=True, iterates=True)
    return Access("call", tuple(locs), name=callable_name(callee))


def _iterators_made(iterables: List[Any]) -> Access:
    """``iter(x)`` (and ``zip``, ``map``, ``enumerate``, ``filter``, which call it): an iterator
    over a dict, set or deque records the size it starts from, so making it reads the container."""
    locs: List[Tuple[tuple, bool]] = []
    rest = []
    for v in iterables:
        tc = type(v)
        if _is_builtin_wrapper(tc):
            if type_lookup(tc, "__next__") is MISSING:  # a view or proxy: it reads what it shows
                locs.extend((loc, False) for loc, _ in _wrapper_locs(v, True, 4))
            continue  # an iterator is its own iterator: nothing is read before it is drawn from
        rest.append(v)
    if rest:
        made = get_iter_access(Lazy(tuple(rest)))
        if made.locs is EVERYTHING:
            return made
        locs.extend(made.locs)
    return Access("read", tuple(locs), space="items") if locs else NONE_ACCESS


def _reversed_made(pos: List[Any]) -> Access:
    """``reversed(xs)`` starts from the sequence's current length: it reads the sequence."""
    if len(pos) != 1:
        return NONE_ACCESS  # raises
    v = pos[0]
    if type(v) in CONTAINERS:
        return Access("read", (((Loc.ITEMS, id(v)), False),), obj=v, name="reversed", space="items")
    return _iterators_made(pos)


def _dir_access(v: Any) -> Access:
    """``dir(x)`` lists every attribute of ``x`` and of the classes it gets attributes from."""
    if v is UNKNOWN or issubclass(type(v), Abstract) or is_immutable(v):
        return unknown("dir()") if v is UNKNOWN else NONE_ACCESS
    owners = list(getattr(v, "__mro__", ())) if issubclass(type(v), type) else [v]
    owners += list(type(v).__mro__)
    return Access("read", tuple(((Loc.OBJECT, id(o)), False) for o in owners if o is not object),
                  name="dir", space="")


def _class_can_change(v: Any) -> bool:
    """Whether ``v.__class__`` may be assigned: an instance of a class written in Python."""
    return not (v is UNKNOWN or issubclass(type(v), Abstract) or is_immutable(v)) and \
        type_lookup(type(v), "__dict__") is not MISSING and type(v).__module__ != "builtins"


def _user_dunder_call(v: Any) -> Optional[bool]:
    """For a user object passed to len/str/...: True if its dunders are code under test."""
    if v is UNKNOWN or issubclass(type(v), Abstract) or is_immutable(v):
        return None
    tc = type(v)
    if tc in CONTAINERS or tc.__module__ == "builtins":
        return None
    for n in ("__len__", "__str__", "__repr__", "__hash__", "__eq__", "__lt__", "__iter__", "__format__",
              "__index__", "__int__", "__float__", "__bool__"):
        impl = type_lookup(tc, n)
        if impl is MISSING or owner_of(tc, n) is object:
            continue
        if func_home(impl) != "user":
            return False
    return True


def _builtin_method_model(recv: Any, name: str, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    tr = type(recv)
    if tr in (types.GeneratorType, types.CoroutineType) and name in ("send", "throw", "close", "__next__"):
        return resume_access(recv, name)
    args = list(pos) + list(kwargs.values())
    if tr in (str, bytes, tuple, frozenset, int, float, complex, range) or recv is None:
        locs = _arg_reads(args, iterates=name in _ITERATING) \
            if name in _ARG_READING_METHODS or name in ("join", "format") else []
        if name in _COMPARING_METHODS and not is_immutable(recv):
            locs.append((ANY_DATA, False))  # ``==`` on items a thread can change (lists in a tuple)
        return Access("read", tuple(locs), name=name, space="") if locs else NONE_ACCESS
    if tr in CONTAINERS or tr.__name__ in ("dict_keys", "dict_values", "dict_items"):
        reading = name in _READ_METHODS
        extra = _arg_reads(args, name == "extend", name in _ITERATING) \
            if name in _ARG_READING_METHODS or name == "sort" else []
        if name in _COMPARING_METHODS and tr in CONTAINERS and shallow_state(recv) is None:
            # ``xs.count(x)``, ``xs.sort()``: comparing items reads inside the ones that can change.
            extra.append((ANY_DATA, False))
        if tr in DICTS and name in _KEYED_METHODS and pos and is_immutable(pos[0]) and not (
                tr is defaultdict and name in ("__getitem__",)):
            loc = (Loc.ITEM, id(recv), pos[0])
            return Access("call", ((loc, not reading), *extra), obj=recv, name=name, space="method")
        if name in ("keys", "values", "items", "__iter__", "copy") and tr in DICTS + (list, set, deque):
            if name == "__iter__" and tr is not list:
                reading = True  # the iterator records the size it starts from
            elif name != "copy":
                return NONE_ACCESS  # a view or list iterator: reading happens when it is iterated
        return Access("call", (((Loc.ITEMS, id(recv)), not reading), *extra), obj=recv, name=name, space="method")
    if issubclass(type(recv), random.Random):
        return Access("write", (((Loc.OBJECT, id(recv)), True),), obj=recv, name=name, space="object")
    if tr is re.Pattern or tr is re.Match:
        model = re_model(name, pos, kwargs, recv) if tr is re.Pattern else match_model(recv, name)
        if model is not None:
            return model
    if issubclass(type(recv), types.ModuleType):
        return _builtin_function_model(getattr(recv, name, None), name, pos, kwargs)
    return unknown(f"{tr.__name__}.{name}")


def _class_call_model(cls: type, pos: List[Any], kwargs: Dict[str, Any]) -> Access:
    if cls.__module__ == "builtins":
        if cls is type and len(pos) == 1 and _class_can_change(pos[0]):
            return attr_access(pos[0], "__class__", False)  # another thread may assign it
        if cls in (object, type(None)) or cls is super or cls is type:
            return NONE_ACCESS
        if cls in (int, float, complex, bool, str, bytes, range, slice, tuple, frozenset, list, dict, set,
                   bytearray, enumerate, zip, reversed, filter, map, memoryview, property, staticmethod,
                   classmethod):
            if cls in (enumerate, zip):
                return _iterators_made(pos[:1] if cls is enumerate else pos)
            if cls is reversed:
                return _reversed_made(pos)
            if cls in (map, filter) and pos and not (python_user_callable(pos[0]) or pos[0] is None
                                                     or type(pos[0]) is types.BuiltinFunctionType):
                return unknown(f"{cls.__name__} with a callable not under test")
            if cls in (map, filter):
                return _iterators_made(pos[1:])
            if cls in (property, staticmethod, classmethod):
                return NONE_ACCESS
            locs = _arg_reads(list(pos) + list(kwargs.values()), cls in (list, tuple), cls in _ITERATING_CLASSES)
            if any(_user_dunder_call(v) is False for v in pos):
                return unknown(f"{cls.__name__}() on an object whose methods the harness cannot see")
            return Access("read", tuple(locs), name=cls.__name__, space="") if locs else NONE_ACCESS
        return unknown(f"{cls.__name__}()")
    if is_sync_class(cls):
        return NONE_ACCESS  # a fresh object: nobody else can see it yet
    if cls.__module__ == "itertools":
        model = itertools_model(cls, pos, kwargs)
        if model is not None:
            return model
    if cls in (deque, OrderedDict, defaultdict):
        # Fresh too, but filled from its arguments: ``deque(items)`` reads them (runs a generator).
        locs = _arg_reads(list(pos) + list(kwargs.values()), iterates=True)
        return Access("read", tuple(locs), name=cls.__name__, space="") if locs else NONE_ACCESS
    if issubclass(cls, threading.Thread):
        init = type_lookup(cls, "__init__")
        if func_home(init) == "user":
            return Access("call", NOTHING, name=cls.__name__)
        # Thread() draws its name from threading's counter: the order of creation is observable.
        return Access("write", (((Loc.ITEM, id(threading.__dict__), "_counter"), True),), name="Thread", space="")
    meta = type(cls)
    if meta is not type:
        mcall = type_lookup(meta, "__call__")
        if mcall is not MISSING and owner_of(meta, "__call__") is not type and func_home(mcall) != "user":
            return unknown(f"{cls.__name__}() with metaclass {meta.__name__}")
    for hook in ("__new__", "__init__"):
        impl = type_lookup(cls, hook)
        owner = owner_of(cls, hook)
        if owner is object or impl is MISSING:
            continue
        if func_home(impl if type(impl) is not staticmethod else impl.__func__) == "user":
            continue
        if owner in (Exception, BaseException) or (issubclass(type(owner), type) and issubclass(owner, BaseException)
                                                    and owner.__module__ == "builtins"):
            continue
        if owner in (dict, list, set, tuple, str, int, float, bytes, frozenset, deque, OrderedDict, defaultdict):
            locs = _arg_reads(list(pos) + list(kwargs.values()))
            return Access("read", tuple(locs), name=cls.__name__, space="") if locs else NONE_ACCESS
        return unknown(f"{cls.__name__}() runs code the harness cannot see")
    return Access("call", NOTHING, name=cls.__name__)
