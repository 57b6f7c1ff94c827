"""Text of a failure's parts that do not depend on the schedule: paths, source lines, tracebacks."""

from __future__ import annotations

import importlib.util
import linecache
import os
import traceback
from typing import AbstractSet, Iterator, List, Optional, Set, Tuple

from .instrument.filter import is_user_code_file


def _package_dirs(*names: str) -> Iterator[str]:
    """The folders of the packages among ``names`` that are installed."""
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            yield os.path.dirname(spec.origin)


def short_path(path: str) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else os.path.basename(path)


def source_line(filename: str, lineno: int) -> str:
    """The stripped text of a source line ("" if unknown)."""
    return linecache.getline(filename, lineno).strip()


# Code of interleave, pytest and pluggy is never a step of the program, whatever is instrumented.
_FOREIGN_DIRS = tuple(
    os.path.normcase(os.path.abspath(d)) + os.sep
    for d in (os.path.dirname(__file__), *_package_dirs("_pytest", "pytest", "pluggy", "interleave_pytest"))
)


def site_text(where: Tuple[str, int, str]) -> str:
    """``file.py:12 in f  `source line```: where a thread waits."""
    path, line, function = where
    return f"{short_path(path)}:{line} in {function}  `{source_line(path, line)}`"


def foreign(filename: str) -> bool:
    """Code of interleave, pytest and pluggy: never shown as steps of the program."""
    return os.path.normcase(os.path.abspath(filename)).startswith(_FOREIGN_DIRS) if filename != "?" else False


# Frames of the standard library's thread machinery: how a thread starts, never the failure.
_THREAD_MACHINERY = {("threading.py", "run"), ("threading.py", "_bootstrap_inner"), ("threading.py", "_bootstrap")}
MAX_FRAMES = 12  # frames shown per exception, the innermost ones
MAX_CHAIN = 5  # exceptions shown along __cause__ / __context__


def _frame_path(filename: str) -> str:
    """An installed library's file as ``package/module.py`` (its site-packages path is noise), else short."""
    parts = filename.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(marker):])
    return short_path(filename)


def _format_frames(exc: BaseException, instrumented: AbstractSet[str]) -> List[str]:
    tb = traceback.extract_tb(exc.__traceback__)
    kept = [fs for fs in tb if not foreign(fs.filename)
            and (os.path.basename(fs.filename), fs.name) not in _THREAD_MACHINERY]
    lines = []
    if len(kept) > MAX_FRAMES:
        lines.append(f"  ... {len(kept) - MAX_FRAMES} outer frames not shown")
        kept = kept[-MAX_FRAMES:]
    for fs in kept:
        seen = is_user_code_file(fs.filename) or fs.filename in instrumented
        mark = "" if seen else "  [not instrumented]"
        lines.append(f'  File "{_frame_path(fs.filename)}", line {fs.lineno}, in {fs.name}{mark}')
        if fs.line:
            lines.append(f"    {fs.line}")
    lines.append("".join(traceback.format_exception_only(type(exc), exc)).strip())
    return lines


def format_exception(exc: BaseException, instrumented: AbstractSet[str] = frozenset()) -> str:
    """The traceback as Python prints it, chain included, without harness frames.

    Frames of installed libraries stay (they are often where the failure is); those whose
    code the run did not trace are marked ``[not instrumented]``: no switch point was taken
    inside them.
    """
    chain: List[Tuple[BaseException, str]] = []
    seen: Set[int] = set()
    cur: Optional[BaseException] = exc
    link = ""
    while cur is not None and id(cur) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(cur))
        chain.append((cur, link))
        if cur.__cause__ is not None:
            cur, link = cur.__cause__, "The above exception was the direct cause of the following exception:"
        elif cur.__context__ is not None and not cur.__suppress_context__:
            cur, link = cur.__context__, "During handling of the above exception, another exception occurred:"
        else:
            cur = None
    lines: List[str] = []
    # Innermost first, as Python prints it; each one's link says how the next one relates to it.
    for e, link in reversed(chain):
        lines += _format_frames(e, instrumented)
        if link:
            lines += ["", link, ""]
    return "\n".join(lines)
