"""Which bytecode instructions another thread could observe, per memory model."""

from __future__ import annotations

import dis
from types import CodeType
from typing import Dict, FrozenSet, Tuple

from ..versions import PY

# Instructions that only touch the frame's own slots, build fresh objects or move control:
# a switch before one of them is the same as a switch before the next visible instruction.
_INVISIBLE = frozenset("""
NOP RESUME CACHE EXTENDED_ARG POP_TOP PUSH_NULL END_FOR END_SEND NOT_TAKEN INTERPRETER_EXIT
LOAD_FAST LOAD_FAST_CHECK LOAD_FAST_AND_CLEAR LOAD_FAST_LOAD_FAST STORE_FAST STORE_FAST_LOAD_FAST
STORE_FAST_STORE_FAST DELETE_FAST LOAD_CONST RETURN_CONST LOAD_CLOSURE MAKE_CELL COPY_FREE_VARS
COPY SWAP DUP_TOP DUP_TOP_TWO ROT_TWO ROT_THREE ROT_FOUR ROT_N
JUMP_FORWARD JUMP_BACKWARD JUMP_BACKWARD_NO_INTERRUPT JUMP_ABSOLUTE JUMP JUMP_NO_INTERRUPT
POP_JUMP_IF_NONE POP_JUMP_IF_NOT_NONE POP_JUMP_FORWARD_IF_NONE POP_JUMP_FORWARD_IF_NOT_NONE
POP_JUMP_BACKWARD_IF_NONE POP_JUMP_BACKWARD_IF_NOT_NONE IS_OP
BUILD_TUPLE BUILD_LIST BUILD_MAP BUILD_CONST_KEY_MAP BUILD_SLICE BUILD_STRING LIST_APPEND SET_ADD
MAP_ADD LIST_TO_TUPLE MAKE_FUNCTION SET_FUNCTION_ATTRIBUTE GEN_START RETURN_VALUE RETURN_GENERATOR
POP_BLOCK SETUP_FINALLY SETUP_CLEANUP SETUP_ANNOTATIONS POP_EXCEPT PUSH_EXC_INFO CHECK_EXC_MATCH
CHECK_EG_MATCH RERAISE KW_NAMES PRECALL LOAD_ASSERTION_ERROR RAISE_VARARGS CALL_INTRINSIC_1
UNARY_NOT YIELD_VALUE BEGIN_FINALLY END_FINALLY POP_FINALLY CALL_FINALLY WITH_CLEANUP_FINISH
""".split())

if PY >= (3, 13):
    # 3.13 makes the truth test an instruction of its own (TO_BOOL); the jumps take exact bools.
    _INVISIBLE = _INVISIBLE | frozenset(
        "POP_JUMP_IF_TRUE POP_JUMP_IF_FALSE".split())

_CALLS = frozenset("""
CALL CALL_KW CALL_FUNCTION CALL_FUNCTION_KW CALL_FUNCTION_EX CALL_METHOD
""".split())

_BACKWARD = frozenset("JUMP_BACKWARD JUMP_ABSOLUTE POP_JUMP_BACKWARD_IF_TRUE POP_JUMP_BACKWARD_IF_FALSE "
                      "POP_JUMP_BACKWARD_IF_NONE POP_JUMP_BACKWARD_IF_NOT_NONE".split())

MODELS = ("instruction", "gil")


# For the process, the one cache of these answers: disassembling a function costs tens of
# microseconds, and every exploration meets its body's code objects afresh (and a thread start
# asks whether its function has a visible instruction). Keyed by id, because hashing a code
# object hashes its constants and names every time; the entry keeps the code object, so its id
# is not reused while the entry stands. Bounded: code made on the fly must not pile up here.
_VISIBLE: Dict[Tuple[int, str], Tuple[CodeType, FrozenSet[int]]] = {}
_LOOP_HEADS: Dict[int, Tuple[CodeType, FrozenSet[int]]] = {}
_KEPT = 4096


def visible_offsets(code: CodeType, model: str) -> FrozenSet[int]:
    """Offsets of the instructions of ``code`` before which a thread switch is possible."""
    key = (id(code), model)
    hit = _VISIBLE.get(key)
    if hit is None or hit[0] is not code:
        if len(_VISIBLE) >= _KEPT:
            _VISIBLE.clear()
        if model == "gil":
            offsets = _gil_offsets(code)
        else:
            offsets = frozenset(i.offset for i in dis.get_instructions(code) if i.opname not in _INVISIBLE)
        hit = _VISIBLE[key] = (code, offsets)
    return hit[1]


def _gil_offsets(code: CodeType) -> FrozenSet[int]:
    out = set()
    first = True
    for ins in dis.get_instructions(code):
        name = ins.opname
        if first and name not in ("COPY_FREE_VARS", "MAKE_CELL", "RETURN_GENERATOR", "POP_TOP", "RESUME"):
            # Function entry. Not RESUME itself: neither back-end reports an event there (3.11+),
            # and nothing observable happens between it and the next instruction.
            out.add(ins.offset)
            first = False
        if name in _CALLS:
            out.add(ins.offset)
        elif name in _BACKWARD or (name.startswith("POP_JUMP_IF") and isinstance(ins.argval, int)
                                   and ins.argval < ins.offset):
            out.add(ins.offset)
    return frozenset(out)


def loop_heads(code: CodeType) -> FrozenSet[int]:
    """Offsets that a backward jump of ``code`` lands on: one pass through one is a loop iteration."""
    hit = _LOOP_HEADS.get(id(code))
    if hit is None or hit[0] is not code:
        if len(_LOOP_HEADS) >= _KEPT:
            _LOOP_HEADS.clear()
        jumps = set(dis.hasjrel) | set(dis.hasjabs)
        hit = _LOOP_HEADS[id(code)] = (code, frozenset(
            ins.argval for ins in dis.get_instructions(code)
            if ins.opcode in jumps and isinstance(ins.argval, int) and ins.argval < ins.offset))
    return hit[1]
