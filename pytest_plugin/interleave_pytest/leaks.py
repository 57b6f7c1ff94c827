"""Detects the common mistake of state shared between executions: a fixture or captured object that changed.

Fixtures are created once per test, not once per execution. When the explored body mutates a
fixture value (or an object it closes over that was made outside it), execution 2 starts from
what execution 1 left behind: failures then depend on history and may not replay. A structural
fingerprint taken before and after the exploration detects this without running user code.
"""

from __future__ import annotations

import collections
import os
import sys
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

from interleave.instrument.filter import is_user_code_file

_ATOMS = (type(None), bool, int, str, bytes, complex, range, type, types.FunctionType,
          types.BuiltinFunctionType, types.ModuleType)
_CONTAINERS = (list, dict, set, bytearray, collections.deque, collections.OrderedDict, collections.defaultdict,
               collections.Counter)
MAX_NODES = 5000
MAX_DEPTH = 5


class InterleaveFixtureStateWarning(UserWarning):
    """State made once per test (a fixture value, a captured object) changed while all executions shared it."""


class InterleaveEndedThreadsWarning(UserWarning):
    """Daemon threads the test body started were still running when it returned, and ended with it."""


def _user_class(cls: type) -> bool:
    mod = sys.modules.get(getattr(cls, "__module__", "") or "")
    path = getattr(mod, "__file__", None)
    return isinstance(path, str) and is_user_code_file(path)


def worth_watching(value: Any) -> bool:
    """Mutable builtin containers and instances of classes defined in code under test."""
    if isinstance(value, _ATOMS) or isinstance(value, (float, tuple, frozenset)):
        return isinstance(value, tuple) and any(worth_watching(v) for v in value)
    if type(value) in _CONTAINERS:
        return True
    if _directory(value) is not None:
        return True
    return _user_class(type(value))


def _directory(value: Any) -> Optional[str]:
    """The path of ``value`` when it names an existing directory (``tmp_path``, ``tmpdir``), else None."""
    if not isinstance(value, os.PathLike) and type(value).__name__ != "LocalPath":
        return None
    try:
        path = os.fspath(value)
        return path if isinstance(path, str) and os.path.isdir(path) else None
    except (TypeError, OSError, ValueError):
        return None


def _tree(path: str) -> Any:
    """Names and sizes under a directory: what files executions leave behind."""
    out: List[Tuple[str, int]] = []
    stack = [path]
    while stack and len(out) < MAX_NODES:
        top = stack.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
            except OSError:
                continue
            # Sizes, not times: a file rewritten with the same content every execution changes nothing.
            out.append((os.path.relpath(entry.path, path), st.st_size))
    return ("dir", tuple(sorted(out)))


class _Printer:
    """Structural fingerprint: values of immutable leaves, identity of everything opaque."""

    def __init__(self) -> None:
        self.nodes = 0

    def fp(self, v: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            return ("...",)
        if isinstance(v, _ATOMS):
            return ("=", v) if isinstance(v, (str, bytes, int, complex)) or v is None else ("id", id(v))
        if isinstance(v, float):
            return ("f", repr(v))
        t = type(v)
        if depth == MAX_DEPTH:
            directory = _directory(v)
            if directory is not None:
                return _tree(directory)
        if depth <= 0:
            return ("id", id(v))
        if t is tuple:
            return ("t", tuple(self.fp(x, depth - 1) for x in v))
        if t is frozenset:
            return ("fs", frozenset(self.key(x) for x in v))
        if t in (list, collections.deque):
            return ("l", id(v), tuple(self.fp(x, depth - 1) for x in list(v)))
        if t in (dict, collections.OrderedDict, collections.defaultdict, collections.Counter):
            return ("d", id(v), tuple((self.key(k), self.fp(x, depth - 1)) for k, x in dict.items(v)))
        if t is set:
            return ("s", id(v), len(v), frozenset(self.key(x) for x in v))
        if t is bytearray:
            return ("b", id(v), bytes(v))
        if _user_class(t):
            return ("o", id(v), self.attrs(v, depth))
        return ("id", id(v))

    def key(self, k: Any) -> Any:
        return ("=", k) if isinstance(k, (str, bytes, int, bool, type(None))) else ("id", id(k))

    def attrs(self, v: Any, depth: int) -> Any:
        out: List[Tuple[str, Any]] = []
        try:
            d = object.__getattribute__(v, "__dict__")
        except AttributeError:
            d = None
        if isinstance(d, dict):
            out.extend((k, self.fp(x, depth - 1)) for k, x in dict.items(d))
        for cls in type(v).__mro__:
            for name in cls.__dict__.get("__slots__", ()) or ():
                if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                    try:
                        out.append((name, self.fp(object.__getattribute__(v, name), depth - 1)))
                    except AttributeError:
                        out.append((name, ("unset",)))
        return tuple(out)


def fingerprint(value: Any) -> Any:
    """A comparable snapshot of ``value``'s reachable state (bounded in size and depth)."""
    return _Printer().fp(value, MAX_DEPTH)


def watched(fixtures: Dict[str, Any], body: Optional[Callable[..., Any]]) -> Dict[str, Tuple[str, Any]]:
    """What to watch: mutable fixture values, and what ``body`` closes over or has as defaults."""
    out: Dict[str, Tuple[str, Any]] = {}
    for name, value in fixtures.items():
        if name != "interleave" and worth_watching(value):
            out[f"fixture {name!r}"] = ("directory" if _directory(value) is not None else "fixture", value)
    fn = body
    if fn is not None and isinstance(fn, types.FunctionType):
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if worth_watching(value) and not any(value is v for _, v in out.values()):
                out[f"{name!r}"] = ("closure", value)
    return out


class Snapshot:
    """Fingerprints taken before an exploration, compared after it."""

    def __init__(self, values: Dict[str, Tuple[str, Any]]) -> None:
        self.values = values
        self.before = {label: fingerprint(v) for label, (_, v) in values.items()}

    def changed(self) -> List[str]:
        """Labels of the watched values whose state differs from the snapshot."""
        return [label for label, (_, v) in self.values.items() if fingerprint(v) != self.before[label]]


def only_files(changed: List[str], values: Dict[str, Tuple[str, Any]]) -> bool:
    """Whether only directories changed: files written there are no mistake unless a failure follows."""
    return all(values[c][0] == "directory" for c in changed)


def message(test: str, changed: List[str], values: Dict[str, Tuple[str, Any]], executions: int) -> str:
    """The warning text: what changed, why it matters, and the fix."""
    fixtures = [c for c in changed if values[c][0] == "fixture"]
    captured = [c for c in changed if values[c][0] == "closure"]
    directories = [c for c in changed if values[c][0] == "directory"]
    parts = []
    if directories:
        parts.append(f"the files in {', '.join(directories)} changed while {executions} executions of {test} "
                     "shared it: the files one execution wrote were there when the next one started, so the "
                     "failure may come from earlier executions rather than from this interleaving. Write to a "
                     "fresh directory in every execution (tempfile.mkdtemp(dir=tmp_path)) or remove the files "
                     "at the start of the body")
    if fixtures:
        parts.append(f"{', '.join(fixtures)} changed while {executions} executions of {test} shared "
                     f"{'it' if len(fixtures) == 1 else 'them'}: a fixture is created once per test, not once "
                     "per execution, so each execution started from what the previous one left behind. Create "
                     "the object inside the test body, or have the fixture return a factory and call it there")
    if captured:
        parts.append(f"{', '.join(captured)}, made outside the explored body and captured by it, changed while "
                     f"{executions} executions shared it: create it inside the body so that every execution "
                     "starts fresh")
    return "interleave: " + "; ".join(parts) + ". Failures found this way may not replay."
