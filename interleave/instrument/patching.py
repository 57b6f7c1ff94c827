"""Install and restore, as one reversible step, every change a run makes to the interpreter.

The ``Patcher`` knows nothing of what is patched: the standard-library wiring and the primitive
adopter (``interleave/patches/``) decide that, above the synchronisation models they install.
"""

from __future__ import annotations

import ctypes
import gc
import weakref
from typing import Any, Callable, List

_MISSING = object()
_type_modified = ctypes.pythonapi.PyType_Modified
_type_modified.argtypes = [ctypes.py_object]
_type_modified.restype = None


class Patcher:
    """Records every change it makes so that ``restore`` puts back exactly what was there."""

    def __init__(self) -> None:
        self._undo: List[Callable[[], None]] = []

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        """Set an attribute, remembering what was there (or that nothing was)."""
        old = obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__") else getattr(obj, name, _MISSING)

        def undo() -> None:
            if old is _MISSING:
                try:
                    delattr(obj, name)
                except AttributeError:
                    pass
            else:
                setattr(obj, name, old)

        setattr(obj, name, value)
        self._undo.append(undo)

    def keep_contents(self, container: Any) -> None:
        """Snapshot a registry (dict, set, list, WeakSet, weak dict) and restore its contents."""
        if isinstance(container, (dict, weakref.WeakKeyDictionary, weakref.WeakValueDictionary)):
            saved_items = list(container.items())

            def undo() -> None:
                container.clear()
                container.update(saved_items)
        elif isinstance(container, list):
            saved_list = list(container)

            def undo() -> None:
                container[:] = saved_list
        else:  # set, WeakSet
            saved_set = list(container)

            def undo() -> None:
                container.clear()
                for x in saved_set:
                    container.add(x)
        self._undo.append(undo)

    def drop_added(self, container: Any, ours: Callable[[Any], bool]) -> None:
        """On restore, take out of a registry what the run added and ``ours`` claims, nothing else.

        Real threads of the process (a pytest-timeout thread, a timer) keep coming and going
        in threading's registries while a run lasts: putting back a snapshot would resurrect
        the ones that ended and forget the ones that started.
        """
        if isinstance(container, dict):
            before_keys = set(map(id, container.values()))

            def undo() -> None:
                for key, value in list(container.items()):
                    if id(value) not in before_keys and ours(value):
                        container.pop(key, None)
        else:  # set, WeakSet
            before = set(map(id, container))

            def undo() -> None:
                for item in list(container):
                    if id(item) not in before and ours(item):
                        container.discard(item)
        self._undo.append(undo)

    def setitem(self, container: Any, key: Any, value: Any) -> None:
        """Set a dict or list item, remembering the old value."""
        old = container[key]

        def undo() -> None:
            container[key] = old

        container[key] = value
        self._undo.append(undo)

    def set_type_entry(self, cls: type, name: str, value: Any) -> None:
        """Set an entry of a type that Python cannot set (a C type's), remembering the old one.

        The type's own dict is the one object its mapping proxy refers to; the interpreter's
        attribute caches for the type are dropped after each change (``PyType_Modified``).
        """
        entries = gc.get_referents(cls.__dict__)[0]
        old = entries[name]

        def undo() -> None:
            entries[name] = old
            _type_modified(cls)

        entries[name] = value
        _type_modified(cls)
        self._undo.append(undo)

    def add_undo(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` when restoring (in reverse order of registration, like every change)."""
        self._undo.append(undo)

    def setcell(self, cell: Any, value: Any) -> None:
        """Set a closure cell, remembering the old content."""
        old = cell.cell_contents

        def undo() -> None:
            cell.cell_contents = old

        cell.cell_contents = value
        self._undo.append(undo)

    def restore(self) -> None:
        """Undo every change, newest first; report what could not be undone."""
        errors = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:  # noqa: BLE001 - restore everything we can, then report
                errors.append(exc)
        if errors:
            raise RuntimeError(f"interleave could not restore {len(errors)} patched names: {errors!r}")
