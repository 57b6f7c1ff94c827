"""Validation of explore/replay options: wrong types get an error that names the fix."""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Optional, Sequence, Tuple

from .errors import OptionError
from .instrument.opcodes import MODELS
from .runtime.blocked import TIMEOUTS


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
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:  # NaN too
        raise OptionError(f"{name} must be a positive number of seconds or None; got {value!r}")
    return float(value)


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
    return value


def model(value: Any) -> str:
    if value not in MODELS:
        raise OptionError(f"model must be one of {', '.join(repr(m) for m in MODELS)}; got {value!r}")
    return str(value)


def timeouts(value: Any) -> str:
    if value not in TIMEOUTS:
        raise OptionError(f"timeouts must be one of {', '.join(repr(t) for t in TIMEOUTS)}; got {value!r}")
    return str(value)


def names(option: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise OptionError(f"{option} must be a module name, a path, or a list of them; got {value!r}")
    return tuple(value)


def callable_body(fn: Any) -> Any:
    """The test body, checked to be callable with no arguments (explore and replay call it so)."""
    if not callable(fn):
        raise OptionError(f"explore/replay need a callable test body taking no arguments; got {fn!r}")
    inner = inspect.unwrap(getattr(fn, "func", fn)) if not inspect.isclass(fn) else fn
    if inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner):
        raise OptionError(
            f"the test body {getattr(inner, '__qualname__', inner)!r} is an async function: calling it only "
            "makes a coroutine, and none of its code would run. interleave explores threads (threading, "
            "queue, concurrent.futures), not asyncio tasks: give it a plain function that starts and joins "
            "the threads"
        )
    if inspect.isgeneratorfunction(inner):
        raise OptionError(
            f"the test body {getattr(inner, '__qualname__', inner)!r} is a generator function: calling it "
            "only makes a generator, and none of its code would run; give explore a function that runs "
            "it (e.g. lambda: list(body()))"
        )
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and some C callables have none: accept them
        return fn
    required = [p for p in sig.parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        listed = ", ".join(repr(p.name) for p in required)
        plural = "arguments" if len(required) > 1 else "an argument"
        raise OptionError(
            f"the test body takes {plural} {listed}: explore and replay call it with none; "
            f"bind {'them' if len(required) > 1 else 'it'} with functools.partial or a closure "
            f"(e.g. explore(functools.partial(body, {required[0].name}=...)))"
        )
    return fn


def optional_callable(name: str, value: Any, what: str) -> Any:
    """None or a callable; anything else is an error naming the option."""
    if value is not None and not callable(value):
        raise OptionError(f"{name} must be None or a callable {what}; got {value!r}")
    return value
