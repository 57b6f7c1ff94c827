"""Operations: what a scenario may call on the object under test, and with which arguments."""

from __future__ import annotations

import inspect
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
    problem, wanted = _arity_problem(fn, 1, len(args))
    if problem:
        raise OptionError(f"lincheck.op({_fn_name(fn)}): {problem}: the operation is called as fn(obj, *args) with "
                          "one Hypothesis strategy per argument after the object, e.g. "
                          f"lincheck.op({_fn_name(fn)}{', st.integers()' * wanted})")
    return Operation(fn, tuple(args), name)


def _arity_problem(fn: Any, before: int, count: int) -> Tuple[str, int]:
    """Why ``fn`` cannot take ``before`` leading arguments and ``count`` drawn ones ('' if it can),
    and how many drawn ones its required parameters ask for.

    Without this, every call raises TypeError, in the run and in the spec alike: every history
    is then linearizable and a racy class passes.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a callable that does not say: find out when it is called
        return "", count
    try:
        sig.bind(*([None] * (before + count)))
    except TypeError:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        required = sum(1 for p in sig.parameters.values() if p.kind in positional and p.default is p.empty)
        bare = sig.replace(parameters=[p.replace(annotation=p.empty) for p in sig.parameters.values()],
                           return_annotation=sig.empty)
        return (f"{_fn_name(fn)}{bare} cannot take {count} argument{'' if count == 1 else 's'}"
                + (" after the object" if before else ""), max(0, required - before))
    return "", count


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
        problem, _ = _arity_problem(method, 0, len(o.args))
        if problem:
            raise OptionError(f"lincheck.check: spec {_fn_name(spec)}: {problem}, as operation {o.name} gives it; "
                              "the spec's method takes the same arguments as the operation")
