"""Exceptions raised by interleave."""

from __future__ import annotations


class InterleaveError(Exception):
    """Base class of interleave's own errors (misuse, not findings)."""


class UnsupportedInterpreterError(InterleaveError):
    """This Python cannot run interleave."""


class OptionError(InterleaveError, TypeError):
    """An option has the wrong type or value."""


class TokenError(InterleaveError, ValueError):
    """A replay token is malformed or was made by an incompatible interpreter."""


class NestedExploreError(InterleaveError):
    """explore() or replay() was called while another exploration is running."""


class InconclusiveError(InterleaveError):
    """A run stopped making progress the harness can see; there is no verdict, neither pass nor fail."""


class ForeignPrimitiveError(InconclusiveError):
    """A synchronisation object created outside the harness was used inside a run."""


class RealBlockingError(InconclusiveError):
    """A thread under test blocked its OS thread for real (I/O, a foreign lock, a real sleep)."""


class StalledRunError(InconclusiveError):
    """A thread under test computed for a long time without reaching a switch point."""


class InstrumentationError(InterleaveError):
    """The run could not be observed: no switch point was reached in user code."""


class InterleaveFailure(AssertionError):
    """An interleaving made the code under test fail; the message is the report."""

    def __init__(self, report: str, result: object) -> None:
        super().__init__(report)
        self.report = report
        self.result = result
