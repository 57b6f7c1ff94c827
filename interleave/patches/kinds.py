"""What the primitive adopter can tell without searching: from a value's type, a module's name and file."""

from __future__ import annotations

import functools
import operator
import sys
import types
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ..instrument.filter import CodeFilter, is_stdlib_file
from .table import _HARNESS_PACKAGES, _harness_module

# Values that hold no primitive (a module's functions hold only code and defaults: see
# ``swap_bound_names``); skipped before any other test, which keeps the search cheap.
_LEAF_TYPES = frozenset({type(None), int, float, complex, str, bytes, bool, types.BuiltinFunctionType,
                         types.ModuleType, types.CodeType, type(Ellipsis), type(NotImplemented),
                         types.WrapperDescriptorType, types.MethodDescriptorType, types.GetSetDescriptorType,
                         types.MemberDescriptorType, types.ClassMethodDescriptorType})
_LEAF_TYPES_IN_MODULES = _LEAF_TYPES | {types.FunctionType, property}
# Kinds of value that are never a real primitive nor a callable the table maps: searched, never swapped.
_NO_TWIN_TYPES = frozenset({list, dict, set, tuple, frozenset, types.FunctionType, types.MethodType,
                            functools.partial})
# Exactly these types: a subclass may be a primitive's owner with attributes of its own.
_PLAIN_CONTAINERS = frozenset({list, dict, set})
# The harness packages whose objects hold no primitive of the program under test (the standard
# library's threading modules define the primitives themselves: they are not among them).
_OPAQUE_PACKAGES = _HARNESS_PACKAGES - {"threading", "_thread", "time", "queue", "_queue", "_threading_local"}
# And the modules whose objects are annotations: a test module holds hundreds (``from __future__
# import annotations``, ``Any``, ``Optional``, ``Callable``), and they hold only types and other
# annotations, never a primitive the program takes.
_OPAQUE_PACKAGES |= {"typing", "typing_extensions", "__future__", "annotationlib"}

# Answers that depend only on a module name or a file path, kept for the process (names only).
_opaque_modules: Dict[str, bool] = {}
_harness_names: Dict[str, bool] = {}
# Per class (a class's module does not change): the common case of ``_opaque`` in one lookup.
_opaque_types: Dict[type, bool] = {}
_OPAQUE_TYPES_KEPT = 4096
_stdlib_files: Dict[str, bool] = {}
_CONTAINER_LIMIT = 1000  # larger containers are data, not where locks live: not searched
# Per filter settings (include, exclude): each module's plan (the filter keeps its own answer
# per file for the same settings, ``CodeFilter.files``).
_Settings = Tuple[Tuple[str, ...], Tuple[str, ...]]
_module_plans: Dict[_Settings, Dict[Tuple[str, str], Optional[bool]]] = {}
# Per filter settings: the modules searched, with their plans, for the sys.modules they came from.
_searched_lists: Dict[_Settings, Tuple[List[Any], List[Tuple[types.ModuleType, bool]]]] = {}


def _opaque(value: Any) -> bool:
    """Whether ``value`` is an instance of a class of the harness (pytest, Hypothesis, interleave...)."""
    kind = type(value)
    hit = _opaque_types.get(kind)
    if hit is None:
        if len(_opaque_types) >= _OPAQUE_TYPES_KEPT:
            _opaque_types.clear()  # classes made on the fly must not pile up here
        hit = _opaque_types[kind] = _opaque_module(getattr(kind, "__module__", None))
    return hit


def _opaque_module(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    hit = _opaque_modules.get(name)
    if hit is None:
        hit = _opaque_modules[name] = name.partition(".")[0] in _OPAQUE_PACKAGES or name.startswith("__editable__")
    return hit


def _harness_name(name: Any) -> bool:
    """``_harness_module``, remembered per module name."""
    if not isinstance(name, str):
        return False
    hit = _harness_names.get(name)
    if hit is None:
        hit = _harness_names[name] = _harness_module(name)
    return hit


def _is_stdlib(code_file: str) -> bool:
    hit = _stdlib_files.get(code_file)
    if hit is None:
        hit = _stdlib_files[code_file] = is_stdlib_file(code_file)
    return hit


def holds_nothing(fn: types.FunctionType) -> bool:
    """Whether following ``fn`` would find nothing: no closure or defaults, attributes only the harness's.

    A test module's functions are visited at every exploration started from it (each marked
    test's), and most are like this: a pytest mark list is their only attribute. The full visit
    would reach the same leaves and harness objects, one call at a time.
    """
    if fn.__closure__ is not None or fn.__defaults__ is not None or fn.__kwdefaults__ is not None:
        return False
    attributes = fn.__dict__
    if not attributes:
        return True
    known = _opaque_types.get  # the harness's classes, once met: no call per value
    for value in attributes.values():
        kind = type(value)
        if kind in _LEAF_TYPES:
            continue
        quiet = known(kind)
        if quiet or (quiet is None and _opaque(value)):
            continue
        if (kind is not list and kind is not tuple) or len(value) > _CONTAINER_LIMIT:
            return False
        for item in value:
            kind = type(item)
            if kind not in _LEAF_TYPES and not known(kind) and not _opaque(item):
                return False
    return True


def public_items(d: Mapping[str, Any], leaves: FrozenSet[type]) -> List[Tuple[str, Any]]:
    """A module's or class's entries worth a visit, copied (the search may set some).

    Left out: dunder names, leaves, and functions that hold nothing (``holds_nothing``): a test
    module holds hundreds of those, and every exploration searches every loaded test module.
    """
    pairs = []
    function = types.FunctionType
    for k, v in d.items():
        kind = type(v)
        if kind in leaves or (kind is function and holds_nothing(v)):
            continue
        if not k.startswith("__"):
            pairs.append((k, v))
    return pairs


# The generic lookup, without the fallback to a class's ``__getattr__``: the search reads state and
# must not run the program's code (``six.moves`` imports a module for a missing attribute).
_generic_getattr = object.__getattribute__


def own_dict(obj: Any) -> Optional[Dict[str, Any]]:
    """``obj.__dict__`` if it has one, read without running a ``__getattr__`` of the program."""
    try:
        d = _generic_getattr(obj, "__dict__")
    except Exception:  # noqa: BLE001 - no dict (AttributeError), or a descriptor of the program that raised
        return None
    return d if type(d) is dict else None


def namespace(owner: Any) -> Any:
    """A class's ``__dict__`` (a read-only proxy), or an object's or module's as ``own_dict`` reads it."""
    return owner.__dict__ if issubclass(type(owner), type) else own_dict(owner)


def slot_values(obj: Any, slots: List[str]) -> List[Tuple[str, Any]]:
    """The slots of ``obj`` that are set, with their values, read as ``own_dict`` reads."""
    pairs = []
    for name in slots:
        try:
            pairs.append((name, _generic_getattr(obj, name)))
        except Exception:  # noqa: BLE001 - an unset slot raises AttributeError; anything else is skipped too
            continue
    return pairs


def _slot_names(cls: type) -> List[str]:
    slots = cls.__dict__.get("__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    return [n for n in slots if n not in ("__dict__", "__weakref__")]


class ModulePlans:
    """Which loaded modules the adopter searches, and how: asked for every module at every start.

    The answers are facts of a module's name, its file and the filter's settings, so they are
    remembered across explorations with the same settings (a filter of another kind is asked
    every time).
    """

    def __init__(self, code_filter: CodeFilter) -> None:
        self.filter = code_filter
        settings = (getattr(code_filter, "include", None), getattr(code_filter, "exclude", None))
        cacheable = type(code_filter) is CodeFilter and all(isinstance(x, tuple) for x in settings)
        self._plans: Optional[Dict[Tuple[str, str], Optional[bool]]] = (
            _module_plans.setdefault(settings, {}) if cacheable else None)  # type: ignore[arg-type]
        self._settings: Optional[_Settings] = settings if cacheable else None  # type: ignore[assignment]

    def searched(self) -> List[Tuple[types.ModuleType, bool]]:
        """The loaded modules the adopter searches, in ``sys.modules`` order, each with its plan.

        Asked at every exploration's start; the answer is kept until ``sys.modules`` holds other
        modules (the kept list holds them, so an id in the key cannot be another module's).
        """
        modules = list(sys.modules.values())
        kept = _searched_lists.get(self._settings) if self._settings is not None else None
        # The same modules in the same order, by identity (an object in sys.modules may define ==).
        if kept is not None and len(kept[0]) == len(modules) and all(map(operator.is_, kept[0], modules)):
            return kept[1]
        found: List[Tuple[types.ModuleType, bool]] = []
        for mod in modules:
            if not isinstance(mod, types.ModuleType):
                continue
            code_file = getattr(mod, "__file__", None)
            if not code_file or not isinstance(code_file, str):
                continue
            plan = self.plan(mod.__name__, code_file)
            if plan is not None:
                found.append((mod, plan))
        if self._settings is not None:
            _searched_lists[self._settings] = (modules, found)
        return found

    def wants(self, code_file: str) -> bool:
        """The filter's answer for a module's file."""
        return self.filter.wants_file(code_file)

    def plan(self, name: str, code_file: str) -> Optional[bool]:
        """Whether a module is searched (None: not at all) and, if so, whether only as a library's."""
        key = (name, code_file)
        plans = self._plans
        if plans is not None and key in plans:
            return plans[key]
        plan: Optional[bool] = None
        if not _harness_module(name) and not (_is_stdlib(code_file) and not self.wants(code_file)):
            plan = not self.wants(code_file)
        if plans is not None:
            plans[key] = plan
        return plan
