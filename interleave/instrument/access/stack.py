"""The stack model: what each bytecode instruction does to an abstract value stack.

Python cannot read a frame's value stack, so the operands of an instruction (the object of
``STORE_ATTR``, the container and key of ``BINARY_SUBSCR``, the callable of ``CALL``) are found
statically: each stack slot holds a descriptor of which earlier instruction produced it, and
each visible instruction records a :class:`Spec` of what it does to which operands. The
bytecode differs per CPython version; the branches read ``PY`` from ``interleave.versions``.
"""

from __future__ import annotations

import dis
from types import CodeType
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ...versions import PY
from .record import Access

# Stack slot descriptors produced by the abstract interpretation.
#   ("f", name)   local variable     ("k", value)  constant     ("n",) NULL
#   ("e", offset) value produced by the visible instruction at offset (kept by the tracker)
#   ("x", offset) the __exit__ pushed by the with-statement set-up at offset
#   ("new",)      a fresh object (BUILD_LIST...)     None  unknown
#   ("new", code) a function just made from ``code``

_F = "f"
_NULLD = ("n",)
_NEW = ("new",)

_UNCOND = frozenset("JUMP_FORWARD JUMP_ABSOLUTE JUMP_BACKWARD JUMP_BACKWARD_NO_INTERRUPT JUMP "
                    "JUMP_NO_INTERRUPT".split())
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
NO_SHARED_STATE = frozenset("LOAD_BUILD_CLASS LOAD_LOCALS JUMP_IF_NOT_EXC_MATCH SETUP_ASYNC_WITH".split())


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


class StackModel:
    """The transfer function: what one instruction does to the abstract stack, and the Spec it records.

    The subclass provides ``code``, ``instrs``, ``index`` (offset -> position), ``visible``,
    ``specs``, ``kwnames`` and ``returns``.
    """

    code: CodeType
    instrs: List[Any]
    index: Dict[int, int]
    visible: FrozenSet[int]
    specs: Dict[int, Spec]
    kwnames: Dict[int, tuple]
    returns: Dict[int, Any]

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
            st.append(e())  # the item: known when it is a new tuple (evaluate.produced_value)
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
            # The code object, a constant (3.10: below the qualified name): a call of the new
            # function that makes a generator is known to return a new generator.
            code_d = st[-1] if PY >= (3, 11) else (st[-2] if len(st) > 1 else None)
            if PY >= (3, 13):
                st.pop()
            else:
                n = 2 if PY < (3, 11) else 1
                n += bin(arg & 0x0F).count("1")
                del st[-n:]
            made = code_d[1] if code_d is not None and code_d[0] == "k" and type(code_d[1]) is CodeType else None
            st.append(("new", made) if made is not None else _NEW)
        elif name == "SET_FUNCTION_ATTRIBUTE":
            st.pop()
        elif name in ("CALL", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW", "CALL_KW"):
            self._call(ins, st)
        elif name == "CALL_FUNCTION_EX":
            n = (2 if PY < (3, 11) else 3) + (arg & 1)
            slots = st[-n:]
            del st[-n:]
            callee = slots[0] if PY < (3, 11) or PY >= (3, 13) else slots[1]
            # The call makes a tuple of ``*star`` and reads ``**kw``'s items first.
            star, kw = (slots[-2], slots[-1]) if arg & 1 else (slots[-1], _NULLD)
            self._spec(ins, "call_ex", None, (callee, star, kw))
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
        elif name == "YIELD_VALUE" and st:
            # The value yielded goes, the value sent comes; the slots below stay what they were
            # (a genexpr's iterator, ``.0``, is still the same object when it resumes).
            st[-1] = None
        elif name == "RETURN_VALUE" or name == "RETURN_CONST":
            self.returns[off] = ("k", ins.argval) if name == "RETURN_CONST" else (st[-1] if st else None)
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
