"""Validation of explore/replay options: wrong types get an error that names the fix."""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence, Tuple

from .errors import OptionError
from .instrument.opcodes import MODELS


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionError(f"{name} must be an integer >= {minimum}; got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def optional_int(name: str, value: Any, minimum: int = 0) -> Optional[int]:
    return None if value is None else positive_int(name, value, minimum)


def optional_seconds(name: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
        raise OptionError(f"{name} must be a positive number of seconds or None; got {value!r}")
    return float(value)


def model(value: Any) -> str:
    if value not in MODELS:
        raise OptionError(f"model must be one of {', '.join(repr(m) for m in MODELS)}; got {value!r}")
    return str(value)


def names(option: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise OptionError(f"{option} must be a module name, a path, or a list of them; got {value!r}")
    return tuple(value)


def callable_body(fn: Any) -> Any:
    if not callable(fn):
        raise OptionError(f"explore/replay need a callable test body taking no arguments; got {fn!r}")
    return fn
