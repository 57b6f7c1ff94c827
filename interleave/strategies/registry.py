"""Strategies by name, for ``explore(strategy=...)``: resolved lazily, so importing this imports no strategy."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ..errors import OptionError
from .base import Strategy

#: The strategy parameters ``explore`` passes on (``None`` ones are left out).
PARAMETERS = ("preemptions", "depth")

#: name -> (module under ``interleave.strategies``, attribute, the parameters it takes). The
#: attribute is a ``Strategy`` subclass (built with its ``from_options``) or a factory
#: ``(seed, **params) -> Strategy``. A new strategy is one module and one line here.
_BUILTIN: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {
    "random": ("random_walk", "RandomStrategy", ()),
    "exhaustive": ("exhaustive", "ExhaustiveStrategy", ("preemptions",)),
    "pct": ("pct", "PCTStrategy", ("depth",)),
    "portfolio": ("portfolio", "PortfolioStrategy", ()),
    "pos": ("pos", "POSStrategy", ()),
    "rounds": ("rounds", "RoundsStrategy", ()),
    "pct-races": ("race_pct", "RacePCTStrategy", ()),
    "hypothesis": ("hypothesis_driven", "HypothesisStrategy", ("preemptions",)),
    "dpor": ("dpor", "DporStrategy", ("preemptions", "order_seed")),
}

_FACTORIES: Dict[str, Callable[..., Strategy]] = {}
_PARAMETERS: Dict[str, Tuple[str, ...]] = {name: entry[2] for name, entry in _BUILTIN.items()}


def register(name: str, factory: Callable[..., Strategy], parameters: Sequence[str] = ()) -> None:
    """Make ``strategy=name`` build ``factory(seed=..., **params)``; ``parameters`` are the ones it takes."""
    _FACTORIES[name] = factory
    _PARAMETERS[name] = tuple(parameters)


def parameters(name: str) -> Tuple[str, ...]:
    """The strategy parameters (``preemptions``, ``depth``) the named strategy takes."""
    return _PARAMETERS.get(name, ())


def names() -> List[str]:
    """The registered strategy names."""
    return sorted(_PARAMETERS)


def make(spec: Any, seed: int, **params: Any) -> Strategy:
    """A strategy from a name or an instance."""
    if isinstance(spec, Strategy):
        return spec
    if not isinstance(spec, str) or spec not in _PARAMETERS:
        raise OptionError(f"strategy must be one of {', '.join(names())} or a Strategy; got {spec!r}")
    params = {k: v for k, v in params.items() if v is not None}
    takes = _PARAMETERS[spec]
    wrong = sorted(k for k in params if k not in takes)
    if wrong:
        others = sorted(n for n, ps in _PARAMETERS.items() if wrong[0] in ps)
        raise OptionError(
            f"strategy {spec!r} " + (f"takes only {', '.join(takes)}" if takes else "takes no parameters")
            + f"; got {', '.join(f'{k}={params[k]!r}' for k in wrong)}"
            + (f" ({wrong[0]} is for {', '.join(others)})" if others else ""))
    return _factory(spec)(seed=seed, **params)


def _factory(name: str) -> Callable[..., Strategy]:
    factory = _FACTORIES.get(name)
    if factory is None:
        module, attr, _ = _BUILTIN[name]
        found = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
        factory = found.from_options if isinstance(found, type) and issubclass(found, Strategy) else found
        _FACTORIES[name] = factory
    return factory
