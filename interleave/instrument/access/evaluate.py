"""Run-time evaluation of a Spec: its operands' values in a frame, and the access and value they make.

``describe(frame)`` is the entry point for reports: ``describe(frame).text`` reads
``"read Counter.value"``; call :meth:`Access.value_now` at the thread's next switch point to show
the value that was read (``-> 0``) or written (``= 1``).
"""

from __future__ import annotations

import builtins
import re
import types
from collections import defaultdict, deque
from types import CodeType, FrameType
from typing import Any, Dict, List, Optional

from .analysis import CodeInfo, analyze
from .calls import (
    CONTEXTMANAGER_CALL,
    FRESH_RESULT,
    GENERATOR_MANAGER,
    IMM_RESULT,
    LAZY_RESULT,
    call_model,
    star_args_access,
    with_access,
)
from .models import (
    COMPARING,
    attr_access,
    dealias,
    get_iter_access,
    item_access,
    iterate_access,
    operands_access,
    super_read,
)
from .record import NONE_ACCESS, Access, unknown
from .stack import Spec
from .stdlib import itertools_result, match_result, re_result
from .values import ALIASES, MISSING, attr_value, callable_name, python_user_callable, super_attr, under_test
from .vocabulary import (
    DICTS,
    FRESH,
    IMM,
    NEW_GEN,
    NULL,
    UNKNOWN,
    Abstract,
    ByObject,
    Instance,
    Lazy,
    Loc,
    Super,
    is_immutable,
)


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
        return NONE_ACCESS if info.ok else unknown("unanalysed code")
    memo = _Recompute(frame, info)
    try:
        acc = evaluate_spec(spec, frame, memo)
    except Exception:  # noqa: BLE001
        return unknown("evaluation error")
    return dealias(acc) if ALIASES else acc


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
            acc = evaluate_spec(spec, self.frame, self)
            return produced_value(spec, self.frame, self, acc)
        except Exception:  # noqa: BLE001
            return default
        finally:
            self.depth -= 1


def _locals(frame: FrameType) -> Any:
    return frame.f_locals


def operand(d: Any, frame: FrameType, memo: Any) -> Any:
    """The run-time value of the stack descriptor ``d`` (UNKNOWN when the harness cannot tell)."""
    if d is None:
        return UNKNOWN
    tag = d[0]
    if tag == "f":
        return _locals(frame).get(d[1], UNKNOWN)
    if tag == "e" or tag == "x":
        v = memo.get(d[1] if tag == "e" else -1 - d[1], UNKNOWN)
        return v if type(v) is not Instance else UNKNOWN
    if tag == "k":
        return d[1]
    if tag == "new":
        return FRESH
    if tag == "n":
        return NULL
    return UNKNOWN


def _compared(d: Any, v: Any) -> Any:
    """A new container a call returned (``list(d.values())``) may hold items other threads
    change, which ``==`` and ``in`` compare: it counts as unknown data (a display this frame
    built does not: docs/dpor.md, Limits)."""
    return UNKNOWN if v is FRESH and d is not None and d[0] == "e" else v


def evaluate_spec(spec: Spec, frame: FrameType, memo: Any) -> Access:  # noqa: C901 - one table
    """The access of the instruction ``spec`` describes, with its operands read in ``frame``."""
    op = spec.op
    if op == "attr_r" or op == "attr_w":
        obj = operand(spec.args[0], frame, memo)
        return attr_access(obj, spec.name, op == "attr_w")
    if op == "global_r" or op == "global_w":
        g = frame.f_globals
        name = spec.name
        locs: tuple = (((Loc.ITEM, id(g), name), op == "global_w"),)
        if op == "global_r" and name not in g:
            # A builtin (or a NameError): another thread may set ``builtins.name``.
            locs += (((Loc.ITEM, id(frame.f_builtins), name), False),)
        acc = Access("read" if op == "global_r" else "write", locs, name=name, space="global")
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
            if not issubclass(type(ns), dict):
                return unknown(f"name {spec.name} in a {type(ns).__name__} namespace")
            own = ((Loc.ITEM, id(ns), spec.name), write)
            locs = (own,) if write else (own, ((Loc.ITEM, id(g), spec.name), False))
            return Access("write" if write else "read", locs, obj=ns, name=spec.name, space="global")
        return Access("write" if write else "read",
                      (((Loc.ITEM, id(g), spec.name), write),), name=spec.name, space="global")
    if op == "cell_r" or op == "cell_w":
        acc = Access("read" if op == "cell_r" else "write", (((Loc.CELL, spec.name), op == "cell_w"),),
                     name=spec.name, space="cell")
        spec.const = acc
        spec.gdict = frame.f_globals
        return acc
    if op == "super_attr":
        cls = operand(spec.args[0], frame, memo)
        obj = operand(spec.args[1], frame, memo)
        if issubclass(type(cls), type) and obj is not UNKNOWN and not issubclass(type(obj), Abstract):
            return super_read(Super(cls, obj), spec.name)
        return Access("read", (((Loc.SOME_ATTR, spec.name), False),), name=spec.name, space="attr")
    if op == "get_iter":
        return get_iter_access(operand(spec.args[0], frame, memo))
    if op == "item_r" or op == "item_w":
        cont = operand(spec.args[0], frame, memo)
        key = operand(spec.args[1], frame, memo) if spec.args[1] is not None else MISSING
        return item_access(cont, key, op == "item_w")
    if op == "call":
        return _call_access(spec, frame, memo)
    if op == "binary":
        a = operand(spec.args[0], frame, memo)
        b = operand(spec.args[1], frame, memo)
        if spec.name in COMPARING:
            a, b = _compared(spec.args[0], a), _compared(spec.args[1], b)
        return operands_access((a, b), spec.name, spec.inplace)
    if op == "unary":
        return operands_access((operand(spec.args[0], frame, memo),), spec.name, False)
    if op == "operands":
        return operands_access(tuple(operand(d, frame, memo) for d in spec.args), spec.name, False)
    if op == "for_iter":
        return iterate_access(operand(spec.args[0], frame, memo), iterator=True)
    if op == "unpack" or op == "iterate":
        return iterate_access(operand(spec.args[0], frame, memo), iterator=False)
    if op == "with":
        cm = operand(spec.args[0], frame, memo)
        return with_access(_made_here(spec.args[0], memo) if cm is UNKNOWN else cm)
    if op == "call_ex":
        callee = operand(spec.args[0], frame, memo)
        if python_user_callable(callee):
            return star_args_access(callee, [operand(d, frame, memo) for d in spec.args[1:]])
        return unknown("call with *args of " + callable_name(callee))
    return unknown(str(spec.name))


# id(type) -> the ``__exit__`` its instances' ``with`` calls (a type-level fact, as the models'
# other caches: every ``with`` on a lock of the program looks it up).
_EXITS = ByObject()


def produced_value(spec: Spec, frame: FrameType, memo: Any, acc: Access) -> Any:
    """The value the instruction pushes, computed just before it runs."""
    op = spec.op
    if op == "attr_r":
        obj = operand(spec.args[0], frame, memo)
        v = attr_value(obj, spec.name)
        return v
    if op == "global_r" or op == "name_r":
        if op == "name_r" and frame.f_locals is not frame.f_globals and spec.name in frame.f_locals:
            v = frame.f_locals[spec.name]
        else:
            v = frame.f_globals.get(spec.name, MISSING)
            if v is MISSING:
                v = frame.f_builtins.get(spec.name, UNKNOWN)
        return v
    if op == "cell_r":
        v = _locals(frame).get(spec.name, UNKNOWN)
        return v
    if op == "item_r":
        cont = operand(spec.args[0], frame, memo)
        if spec.args[1] is None:
            return FRESH if type(cont) in (list, str, bytes, tuple, bytearray) else UNKNOWN
        key = operand(spec.args[1], frame, memo)
        tc = type(cont)
        v = UNKNOWN
        if tc in DICTS and is_immutable(key):
            v = dict.get(cont, key, UNKNOWN) if tc is not defaultdict or key in cont else UNKNOWN
        elif tc is re.Match:
            v = match_result(cont, "__getitem__")
        elif tc in (list, tuple) and type(key) is int:
            try:
                v = cont[key]
            except IndexError:
                v = UNKNOWN
        return v
    if op == "with":
        cm = operand(spec.args[0], frame, memo)
        ex: Any = UNKNOWN
        made = _made_here(spec.args[0], memo) if cm is UNKNOWN else cm
        if type(made) is Instance:
            # ``with Manager():``: the object is not known, its class is (``_call_result``). A
            # @contextmanager's __exit__ resumes the generator: calling it is calling that code.
            if made.runs is not None:
                memo[-1 - spec.offset] = made.runs
                return UNKNOWN
            ex = attr_value(made.cls, "__exit__")
            memo[-1 - spec.offset] = types.MethodType(ex, made) if type(ex) is types.FunctionType else UNKNOWN
            return UNKNOWN
        if cm is not UNKNOWN and not issubclass(type(cm), Abstract):
            tc = type(cm)
            ex = _EXITS.get(id(tc))
            if ex is None:
                ex = attr_value(tc, "__exit__")
                _EXITS.put(tc, id(tc), ex)
        memo[-1 - spec.offset] = types.MethodType(ex, cm) if type(ex) is types.FunctionType else (
            ex.__get__(cm, type(cm)) if type(ex) in (types.WrapperDescriptorType, types.MethodDescriptorType)
            else UNKNOWN)
        return UNKNOWN
    if op == "get_iter":
        src = operand(spec.args[0], frame, memo)
        if type(src) is Lazy:
            return src
        return Lazy((src,))
    if op == "binary" or op == "unary":
        vals = [operand(d, frame, memo) for d in spec.args]
        if spec.name in ("COMPARE_OP", "CONTAINS_OP", "TO_BOOL", "UNARY_NOT"):
            if all(is_immutable(v) or v is FRESH for v in vals) or spec.name != "COMPARE_OP":
                return IMM
        if all(is_immutable(v) for v in vals):
            return IMM
        return UNKNOWN
    if op == "call":
        return _call_result(spec, frame, memo)
    if op == "for_iter":
        it = operand(spec.args[0], frame, memo)
        # ``for i, x in enumerate(xs)``: the tuple unpacked is new, nobody else has it.
        return FRESH if type(it) is Lazy and it.tuples else UNKNOWN
    if op == "super_attr":
        cls = operand(spec.args[0], frame, memo)
        obj = operand(spec.args[1], frame, memo)
        if issubclass(type(cls), type) and obj is not UNKNOWN:
            return super_attr(Super(cls, obj), spec.name)
        return UNKNOWN
    return UNKNOWN


def _call_access(spec: Spec, frame: FrameType, memo: Any) -> Access:
    vals = [operand(d, frame, memo) for d in spec.args]
    callee, args = vals[0], vals[1:]
    kw = spec.kw
    if not kw:
        return call_model(callee, args, {})
    npos = len(args) - len(kw)
    pos, kwargs = args[:npos], dict(zip(kw, args[npos:], strict=False))
    return call_model(callee, pos, kwargs)


_GENERATOR = 0x20  # CO_GENERATOR


def _call_result(spec: Spec, frame: FrameType, memo: Any) -> Any:
    """What a call returns, as far as the harness can tell without running it."""
    vals = [operand(d, frame, memo) for d in spec.args]
    callee, args = vals[0], vals[1:]
    if callee is FRESH:
        d = spec.args[0]
        if len(d) == 2 and d[0] == "new" and d[1].co_flags & _GENERATOR and under_test(d[1]):
            # ``any(x for x in xs)``: a new generator of code under test, which only the call it
            # goes to will run (its points are its own); stored, it is read from where it is.
            return NEW_GEN
        return UNKNOWN
    if callee is UNKNOWN or issubclass(type(callee), Abstract):
        return UNKNOWN
    tcal = type(callee)
    if tcal is types.MethodType:  # ``lock.read_lock()``: a @contextmanager method makes one too
        func = callee.__func__
        if type(func) is types.FunctionType and func.__code__ is CONTEXTMANAGER_CALL:
            return Instance(GENERATOR_MANAGER, func.__wrapped__)  # type: ignore[attr-defined]
    elif tcal is types.FunctionType and callee.__code__ is CONTEXTMANAGER_CALL:
        return Instance(GENERATOR_MANAGER, callee.__wrapped__)
    if tcal is types.BuiltinFunctionType:
        recv = getattr(callee, "__self__", None)
        name = callee.__name__
        if recv is builtins or recv is None:
            if name in IMM_RESULT:
                return IMM
            if name in FRESH_RESULT:
                return FRESH
            if name in LAZY_RESULT:
                if name == "iter" and len(args) != 1:
                    return UNKNOWN  # iter(f, sentinel) calls f (maybe not code under test)
                return Lazy(tuple(a for a in args if not callable(a) or a is UNKNOWN))
            if name == "super" and not args:
                return _call_result_super(frame)
            if name == "getattr" and len(args) in (2, 3) and type(args[1]) is str:
                # getattr(obj, "b").x: the owner of x, read as obj.b would be.
                return attr_value(args[0], args[1])
            return UNKNOWN
        tr = type(recv)
        if tr is re.Pattern:
            return re_result(name, _positional(spec, args), _kwargs(spec, args), recv)
        if tr is re.Match:
            return match_result(recv, name)
        if tr in DICTS and name == "get" and len(args) in (1, 2) and is_immutable(args[0]):
            v = dict.get(recv, args[0], MISSING)
            return v if v is not MISSING else (args[1] if len(args) == 2 else None)
        if tr in DICTS and name in ("keys", "values", "items"):
            return Lazy((recv,), name == "items")
        if tr in (list, set, deque) + DICTS and name in ("copy",):
            return FRESH
        if tr in (str, bytes) and name not in ("split", "rsplit", "splitlines", "partition", "rpartition"):
            return IMM
        return UNKNOWN
    if tcal is types.FunctionType and getattr(callee, "__module__", None) == "re":
        return re_result(callee.__name__, _positional(spec, args), _kwargs(spec, args))
    if issubclass(type(callee), type):
        if callee in (int, float, complex, bool, str, bytes, frozenset):
            return IMM
        if callee in (range,):
            return IMM
        if callee.__module__ == "builtins" and callee in (list, dict, set, tuple, bytearray):
            return FRESH
        if callee in (enumerate, zip, reversed):
            return Lazy(tuple(args), callee is not reversed)
        if callee in (map, filter) and args and (args[0] is FRESH or python_user_callable(args[0])):
            # The function is code under test (its points are its own): the iterator reads its
            # iterables, as a ``for`` over them would; ``filter`` also tests the truth of what
            # the function returned.
            return Lazy(tuple(args[1:]), deep=callee is filter)
        if callee.__module__ == "itertools":
            return itertools_result(callee, _positional(spec, args), _kwargs(spec, args))
        if callee is super and not args:
            return _call_result_super(frame)
        if callee is type and len(args) == 1 and not issubclass(type(args[0]), (Abstract, Lazy, Super)):
            return type(args[0])  # type(obj).count: the class is the owner
        if callee.__module__ in ("threading", "queue"):
            return FRESH
        if type(callee) is type and callee.__new__ is object.__new__:
            return Instance(callee)  # exactly a ``callee``: what a ``with`` on it calls is known
        return UNKNOWN
    return UNKNOWN


def _made_here(d: Any, memo: Any) -> Any:
    """The ``Instance`` a class call left as operand ``d``, else UNKNOWN (``operand`` hides it)."""
    if d is not None and d[0] == "e":
        v = memo.get(d[1], UNKNOWN)
        if type(v) is Instance:
            return v
    return UNKNOWN


def _kwargs(spec: Spec, args: List[Any]) -> Dict[str, Any]:
    """The keyword arguments of a call, from its values (``args``: the positional ones first)."""
    kw = spec.kw
    if not kw:
        return {}
    return dict(zip(kw, args[len(args) - len(kw):], strict=False))


def _positional(spec: Spec, args: List[Any]) -> List[Any]:
    kw = spec.kw
    return args[:len(args) - len(kw)] if kw else args


def _call_result_super(frame: FrameType) -> Any:
    code = frame.f_code
    if code.co_argcount:
        loc = _locals(frame)
        obj = loc.get(code.co_varnames[0], UNKNOWN)
        cls = loc.get("__class__", UNKNOWN)
        if issubclass(type(cls), type) and obj is not UNKNOWN:
            return Super(cls, obj)
    return UNKNOWN
