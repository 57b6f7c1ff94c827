"""Module globals whose attribute lookups run the program's code: the primitive search must not.

``six.moves`` (imported by python-dateutil, transitions and many more) imports a module when a
missing attribute is read; a context proxy raises when asked for its class outside a context.
"""

from __future__ import annotations

import threading
import types
from typing import List

CALLS: List[str] = []  # every lookup that reached the program's code


class LazyModule(types.ModuleType):
    """Imports on a missing attribute, as six.moves does; here the import fails."""

    def __getattr__(self, name: str) -> object:
        CALLS.append(f"LazyModule.{name}")
        raise ImportError(f"No module named 'lazy_{name}'")


class LazySlots:
    """A slotted object whose unset slot falls back to ``__getattr__``."""

    __slots__ = ("target",)

    def __getattr__(self, name: str) -> object:
        CALLS.append(f"LazySlots.{name}")
        raise ImportError(f"lazy {name}")


class ContextProxy:
    """Stands for an object that exists only inside a context (werkzeug's LocalProxy, say)."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        CALLS.append("ContextProxy.__class__")
        raise RuntimeError("working outside of the context")


MOVES = LazyModule("lazy_moves")
HOLDER = {"moves": LazyModule("lazy_nested"), "slots": LazySlots(), "proxy": ContextProxy()}
PROXIES = [ContextProxy(), LazySlots()]
LOCK = threading.Lock()
state = {"value": 0}


def increment() -> None:
    with LOCK:
        v = state["value"]
        state["value"] = v + 1
