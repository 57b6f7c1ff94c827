"""What a thread is about to do at a switch point, as the primitive or the back-end declares it.

A cooperative primitive names its operation before performing it (an ``Op``: kind, target,
whether it would wait, for how long); the runtime adds where the thread stands (a
``SwitchPoint``) and hands that to the strategy's recorder, the race detector and the trace.
Nobody downstream reads the runtime's frames or a primitive's locals to find out.
"""

from __future__ import annotations

import enum
from types import CodeType, FrameType
from typing import Any, NamedTuple, Optional


class OpKind(str, enum.Enum):
    """The synchronisation operations a switch point can stand before."""

    ACQUIRE = "acquire"  # take a lock
    RELEASE = "release"  # give a lock back
    PUT = "put"  # add an item to a queue
    GET = "get"  # take an item from a queue
    SLEEP = "sleep"  # let virtual time pass
    SWITCH = "switch"  # ``interleave.switch()``: a switch point and nothing else
    START = "start"  # a new thread, before it runs code that offers no switch point

    def __str__(self) -> str:
        return self.value


class Op(NamedTuple):
    """A synchronisation operation a primitive is about to perform."""

    kind: OpKind
    #: The primitive operated on (the lock, the queue), or the callable a new thread starts.
    target: Any = None
    #: Whether it waits (parks the thread) while the target is not available.
    blocking: bool = False
    #: The longest it waits, in virtual seconds; None when it waits until it is woken.
    timeout: Optional[float] = None

    @property
    def waits_until_woken(self) -> bool:
        """Whether only another thread can end its wait (blocking, no timeout)."""
        return self.blocking and self.timeout is None


class SwitchPoint:
    """Where a thread stands at a switch point, before the operation there runs.

    The runtime keeps one per thread and updates it in place at every point: read it when it is
    handed to you, do not keep it.
    """

    __slots__ = ("code", "offset", "op", "frame", "resumes")

    def __init__(self, code: Optional[CodeType], offset: int, op: Optional[Op], frame: Optional[FrameType],
                 resumes: bool = False) -> None:
        #: The instrumented code and the offset of the instruction about to run; None at an ``op``.
        self.code = code
        self.offset = offset
        #: The synchronisation operation about to run, None at an instruction.
        self.op = op
        #: While the thread stands here: the frame running ``code`` at an instruction (looked
        #: up only when a recorder runs: recorders are its only readers), or the frame that
        #: called the primitive at an ``op`` (None for a thread's own start). The runtime drops
        #: it when the thread goes on, so that no frame outlives its point (a frame keeps its
        #: locals alive, and user code can see when objects die).
        self.frame = frame
        #: The thread is parked inside an operation and goes on with it when woken: what it
        #: does next is the rest of that operation, not a new one.
        self.resumes = resumes

    def __repr__(self) -> str:
        where = f"{self.code.co_name}@{self.offset}" if self.code is not None else describe(self.op)
        return f"<SwitchPoint {where}{' (resumes)' if self.resumes else ''}>"


def describe(op: Any) -> str:
    """A short text for an operation in a trace (``Lock.acquire``, ``sleep(0.5)``)."""
    if not isinstance(op, Op):
        return str(op)
    if op.kind is OpKind.START:
        return "(thread starts)"
    if op.kind is OpKind.SLEEP:
        return f"sleep({op.timeout})"
    if op.target is None:
        return op.kind.value
    return f"{type(op.target).__name__}.{op.kind.value}"
