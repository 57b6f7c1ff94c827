"""The Access record: what one switch point touches, its label for reports, its value now."""

from __future__ import annotations

from typing import Any, Tuple

from .values import attr_value
from .vocabulary import DICTS, EVERYTHING, NOTHING, UNKNOWN, Super


class Access:
    """What one switch point touches: kind, target object and name, and dependency locations."""

    __slots__ = ("kind", "obj", "name", "space", "locs", "block", "sync", "value")

    def __init__(self, kind: str, locs: Tuple[Tuple[tuple, bool], ...], obj: Any = None,
                 name: Any = None, space: str = "", block: Any = None, sync: Any = None) -> None:
        self.kind = kind  # read | write | call | sync | unknown | none
        self.locs = locs
        self.obj = obj  # the object whose state is touched (None for globals, cells, unknown)
        self.name = name  # attribute name, key, global or cell name
        self.space = space  # attr | item | items | global | cell | object | sync | ""
        self.block = block  # for blocking operations: what must hold for the thread to go on
        self.sync = sync  # ("acquire"|"release", lock) and the like, for happens-before
        self.value: Any = UNKNOWN  # what a read or load produced (filled when it executes)

    @property
    def text(self) -> str:
        """A short description, e.g. ``read Counter.value`` or ``write counts['a']``."""
        target = self.label
        if self.kind in ("read", "write"):
            return f"{self.kind} {target}" if target else self.kind
        if self.kind == "call":
            return f"call {target}" if target else "call"
        if self.kind == "sync":
            return target or "sync"
        return self.kind

    @property
    def label(self) -> str:
        """``Counter.value``, ``counts['a']``, ``global total``, ``cell n``, ``Lock``..."""
        sp = self.space
        if sp == "attr":
            obj = self.obj
            if obj is None:  # an object the analysis could not see: "NoneType" would be wrong
                return f"?.{self.name}"
            if type(obj) is Super:
                obj = obj.obj
            owner = obj.__name__ if issubclass(type(obj), type) else type(obj).__name__
            return f"{owner}.{self.name}"
        if sp == "item":
            return f"{type(self.obj).__name__}[{self.name!r}]"
        if sp == "method" or (sp == "sync" and self.obj is not None and issubclass(type(self.name), str)):
            return f"{type(self.obj).__name__}.{self.name}"
        if sp in ("items", "object", "sync"):
            return type(self.obj).__name__ if self.obj is not None else str(self.name or "")
        if sp == "global":
            return f"global {self.name}"
        if sp == "cell":
            return f"cell {self.name}"
        return str(self.name) if self.name is not None else ""

    def value_now(self) -> Any:
        """The location's current value, read without running user code (UNKNOWN if not possible).

        Called at the thread's next switch point it gives what a read produced or a write stored.
        """
        sp = self.space
        try:
            if sp == "attr":
                return attr_value(self.obj, self.name)
            if sp == "item" and type(self.obj) in DICTS:
                return dict.get(self.obj, self.name, UNKNOWN)
        except Exception:  # noqa: BLE001 - a description must never fail the run
            return UNKNOWN
        return self.value

    def __repr__(self) -> str:
        return f"<Access {self.text} {list(self.locs)}>"


NONE_ACCESS = Access("none", NOTHING)


def unknown(reason: str = "") -> Access:
    """An access the models cannot describe: it touches everything (``reason`` says why)."""
    return Access("unknown", EVERYTHING, name=reason)
