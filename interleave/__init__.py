"""interleave: deterministic thread-interleaving tests for Python."""

from __future__ import annotations

import sys

if sys.version_info < (3, 10):  # noqa: UP036 - a clear error for installs that bypass requires-python
    raise ImportError(f"interleave needs Python 3.10 to 3.13; this is {sys.version.split()[0]}")

from .api import explore, replay, switch  # noqa: E402
from .errors import (  # noqa: E402
    ForeignPrimitiveError,
    InconclusiveError,
    InstrumentationError,
    InterleaveError,
    InterleaveFailure,
    NestedExploreError,
    OptionError,
    RealBlockingError,
    StalledRunError,
    TokenError,
    UnsupportedInterpreterError,
)
from .result import Failure, Result  # noqa: E402
from .strategies.base import Strategy  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "explore", "replay", "switch", "Result", "Failure", "Strategy",
    "InterleaveError", "InterleaveFailure", "OptionError", "TokenError", "NestedExploreError",
    "ForeignPrimitiveError", "InstrumentationError", "UnsupportedInterpreterError",
    "InconclusiveError", "RealBlockingError", "StalledRunError",
]
