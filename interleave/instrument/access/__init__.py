"""What a switch point touches: the shared location an instruction or sync operation reads or writes.

A static pass over each code object (:mod:`.stack`, :mod:`.analysis`) finds which earlier
instruction produced each operand; at run time (:mod:`.tracker`, :mod:`.evaluate`) the operand
values are read without running user code (:mod:`.values`) and the models (:mod:`.models`,
:mod:`.calls`, :mod:`.primitives`) turn them into an :class:`Access`: a tuple of
``(location, is_write)`` in the vocabulary of :mod:`.vocabulary`, on which the dependency
model of docs/dpor.md is built.

The modules import downwards only: vocabulary < values < record < stack < analysis; record <
models < primitives < calls < evaluate < lifetime < tracker. This package re-exports the names the other
layers (the recorder, the race detector, DPOR) and the tests use.
"""

from .analysis import analyze
from .calls import call_model
from .evaluate import describe
from .lifetime import release_frames
from .primitives import sync_access
from .record import NONE_ACCESS, Access, unknown
from .tracker import AccessTracker
from .values import set_code_filter
from .vocabulary import CLOCK, DEADLINES, EVERYTHING, UNKNOWN

__all__ = ["CLOCK", "DEADLINES", "EVERYTHING", "NONE_ACCESS", "UNKNOWN", "Access", "AccessTracker", "analyze",
           "call_model", "describe", "release_frames", "set_code_filter", "sync_access", "unknown"]
