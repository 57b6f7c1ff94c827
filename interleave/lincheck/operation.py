"""Operations: what a scenario may call on the object under test, and with which arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple

from ..errors import OptionError


@dataclass(frozen=True)
class Operation:
    """One operation: ``fn(obj, *args)`` with each argument drawn from its Hypothesis strategy."""

    fn: Callable[..., Any]
    args: Tuple[Any, ...]
    name: str

    def __repr__(self) -> str:
        return f"lincheck.op({self.name})"


def _is_strategy(value: Any) -> bool:
    try:
        from hypothesis.strategies import SearchStrategy
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return False
    return isinstance(value, SearchStrategy)


def op(fn: Callable[..., Any], *args: Any, name: Optional[str] = None) -> Operation:
    """An operation ``fn(obj, *args)``; ``args`` are Hypothesis strategies, ``name`` the spec's method name.

    ``name`` defaults to ``fn.__name__`` (``Registry.get`` -> ``"get"``): with ``spec=``, the
    sequential model is called as ``getattr(spec_obj, name)(*args)``.
    """
    if not callable(fn):
        raise OptionError(f"lincheck.op: the operation must be callable as fn(obj, *args); got {fn!r} "
                          f"({type(fn).__name__}), e.g. lincheck.op(Counter.increment)")
    for i, a in enumerate(args):
        if not _is_strategy(a):
            raise OptionError(f"lincheck.op({_fn_name(fn)}): argument {i + 1} must be a Hypothesis strategy "
                              f"(e.g. st.integers(0, 9), or st.just(x) for a constant); got {a!r}")
    if name is None:
        name = _fn_name(fn)
    if not isinstance(name, str) or not name:
        raise OptionError(f"lincheck.op({_fn_name(fn)}): name must be a non-empty string; got {name!r}")
    return Operation(fn, tuple(args), name)


def _fn_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", None) or repr(fn))


def check_operations(operations: Any) -> Tuple[Operation, ...]:
    """The operations as a tuple, or an ``OptionError`` naming the one that is not an operation."""
    if isinstance(operations, Operation) or not isinstance(operations, Sequence) or isinstance(operations, str):
        raise OptionError("lincheck.check: operations must be a list of lincheck.op(...); "
                          f"got {operations!r}")
    if not operations:
        raise OptionError("lincheck.check: operations is empty; give at least one lincheck.op(...)")
    out = []
    for i, o in enumerate(operations):
        if isinstance(o, Operation):
            out.append(o)
        elif callable(o):
            out.append(op(o))  # a bare method with no arguments
        else:
            raise OptionError(f"lincheck.check: operation {i + 1} is not callable and not a lincheck.op(...): "
                              f"{o!r} ({type(o).__name__})")
    return tuple(out)


def check_spec(spec: Any, operations: Sequence[Operation]) -> None:
    """Build one spec object and check that it has a method for every operation."""
    if not callable(spec):
        raise OptionError(f"lincheck.check: spec must be a factory (a class or a function) of a sequential "
                          f"object; got {spec!r}")
    obj = spec()
    for o in operations:
        method = getattr(obj, o.name, None)
        if not callable(method):
            what = "has no method" if method is None else "has a non-callable attribute"
            raise OptionError(f"lincheck.check: spec {_fn_name(spec)} {what} {o.name!r} for operation {o.name} "
                              f"(from {getattr(o.fn, '__qualname__', o.name)}); add it to the spec, or give the "
                              "operation the spec's method name with lincheck.op(fn, ..., name='method')")
