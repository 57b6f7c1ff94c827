"""Which code is under test: by default, not the standard library, site-packages or interleave."""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from types import CodeType
from typing import Dict, Iterable, List, Sequence, Tuple

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The directory of interleave's own code, with a trailing separator: a file under it is the harness's.
HARNESS_DIR = _HERE + os.sep


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _default_excluded() -> Tuple[str, ...]:
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(_norm(p))
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        paths.add(_norm(os.path.join(p, "lib")))
    paths.add(_norm(_HERE))
    plugin = os.path.join(os.path.dirname(_HERE), "pytest_plugin")
    paths.add(_norm(plugin))
    return tuple(sorted(p + os.sep for p in paths))


_EXCLUDED = _default_excluded()


def _stdlib_paths() -> Tuple[str, ...]:
    paths = set()
    for key in ("stdlib", "platstdlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(_norm(p) + os.sep)
    return tuple(sorted(paths))


_STDLIB = _stdlib_paths()


def is_stdlib_file(filename: str) -> bool:
    """Whether a file belongs to the standard library (not to site-packages inside it)."""
    n = _norm(filename)
    return n.startswith(_STDLIB) and f"{os.sep}site-packages{os.sep}" not in n \
        and f"{os.sep}dist-packages{os.sep}" not in n
_INTERACTIVE = ("<stdin>", "<doctest", "<ipython-input", "<console")
_user_cache: Dict[str, bool] = {}


def is_user_code_file(filename: str) -> bool:
    """Whether a file is code under test by the default rule."""
    hit = _user_cache.get(filename)
    if hit is None:
        if filename.startswith("<"):
            # Other "<...>" names are generated code: dataclasses' and namedtuple's "<string>",
            # attrs' "<attrs generated ...>", frozen modules. Add them with instrument=[name].
            hit = filename.startswith(_INTERACTIVE)
        else:
            n = _norm(filename)
            hit = not (n.startswith(_EXCLUDED) or f"{os.sep}site-packages{os.sep}" in n
                       or f"{os.sep}dist-packages{os.sep}" in n)
        _user_cache[filename] = hit
    return hit


def resolve_targets(items: Iterable[str]) -> Tuple[str, ...]:
    """Module names or paths, as normalised path prefixes."""
    out: List[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise TypeError(f"instrument/exclude entries must be module names or paths, got {item!r}")
        if item.startswith("<"):  # a generated-code file name, e.g. "<string>"
            out.append(item)
            continue
        if os.sep in item or "/" in item or item.endswith(".py"):
            p = _norm(item)
            out.append(p if p.endswith(".py") else p + os.sep)
            continue
        loaded = sys.modules.get(item)
        source = getattr(loaded, "__file__", None)
        if getattr(loaded, "__spec__", 1) is None and isinstance(source, str) and source.endswith(".py"):
            out.append(_norm(source))  # a script run as __main__ (python script.py): no spec to find
            continue
        try:
            spec = importlib.util.find_spec(item)
        except (ImportError, ValueError) as exc:  # a parent package that fails to import, a spec-less module
            raise ValueError(f"cannot instrument {item!r}: {exc}; give an importable module name or a path") from None
        if spec is not None and spec.origin in ("built-in", "frozen"):
            how = ("built into the interpreter (C code, no Python source)" if spec.origin == "built-in" else
                   f"frozen into the interpreter: its code runs under the file name '<frozen {item}>', "
                   f"which instrument=['<frozen {item}>'] names")
            raise ValueError(f"cannot instrument {item!r}: it is {how}")
        if spec is None or not spec.origin:
            raise ValueError(
                f"cannot instrument {item!r}: no module of that name with Python source was found; "
                "give an importable module name or a path"
            )
        if not spec.origin.endswith((".py", ".pyw")):
            kind = "a C extension" if spec.origin.endswith((".so", ".pyd", ".dylib")) else "compiled code only"
            raise ValueError(
                f"cannot instrument {item!r}: it has no Python source ({kind}: {spec.origin}); interleave "
                "switches threads only inside Python code. Instrument the Python module that calls it instead; "
                "its calls into the extension then run as single steps"
            )
        origin = _norm(spec.origin)
        if spec.submodule_search_locations:
            out.append(os.path.dirname(origin) + os.sep)
        else:
            out.append(origin)
    return tuple(out)


# Per (include, exclude) settings: filename -> whether its code is under test.
_FILES: Dict[Tuple[Tuple[str, ...], Tuple[str, ...]], Dict[str, bool]] = {}


class CodeFilter:
    """Decides, per code object, whether its instructions are switch points."""

    def __init__(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self.include = resolve_targets(include)
        self.exclude = resolve_targets(exclude)
        #: filename -> whether its code is under test, for every file asked about so far. Hot
        #: paths (a lock taken by the standard library) read it directly: a dict lookup on the
        #: interned filename instead of two calls; a miss goes through ``wants_file``.
        #: Shared by every filter with the same settings: each exploration has a filter of its
        #: own, and meeting a hundred files afresh cost its first execution tens of microseconds.
        self.files: Dict[str, bool] = _FILES.setdefault((self.include, self.exclude), {})

    def wants(self, code: CodeType) -> bool:
        """Whether ``code`` is code under test."""
        hit = self.files.get(code.co_filename)
        return self.wants_file(code.co_filename) if hit is None else hit

    def wants_file(self, filename: str) -> bool:
        """Whether code from ``filename`` is code under test."""
        hit = self.files.get(filename)
        if hit is None:
            n = _norm(filename) if not filename.startswith("<") else filename
            if self.exclude and n.startswith(self.exclude):
                hit = False
            elif self.include and n.startswith(self.include):
                hit = True
            else:
                hit = is_user_code_file(filename)
            self.files[filename] = hit
        return hit
