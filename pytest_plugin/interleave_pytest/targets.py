"""The options that name code (``instrument``, ``exclude``): parsing, checking, merging over levels."""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, Optional, Tuple

import pytest


def _target_problem(name: str) -> Optional[str]:
    """Why ``name`` is neither a module name, a path, nor a generated-code name; None if it is one."""
    if name.startswith("<") and name.endswith(">"):
        return None
    if "/" in name or os.sep in name or name.endswith(".py"):
        return None
    if all(part.isidentifier() for part in name.split(".")):
        return None
    return f"{name!r} is neither a module name (mylib, mylib.sub) nor a path (src/mylib)"


def parse_targets(text: str) -> Tuple[str, ...]:
    """``--interleave-instrument``/``--interleave-exclude``: module names or paths, comma-separated."""
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(
            f"must be a module name or a path, or several separated by commas, e.g. mylib,otherlib (got {text!r})")
    for name in names:
        problem = _target_problem(name)
        if problem is not None:
            raise argparse.ArgumentTypeError(
                f"{problem}; give importable module names or paths separated by commas (got {text!r})")
    return names


#: The options that name code (module names or paths): their values accumulate over the levels.
TARGET_OPTIONS = ("instrument", "exclude")


def check_targets(names: Tuple[str, ...], label: str) -> None:
    """Every name resolves to Python source (an importable module with a .py file, or a path).

    Raises ``pytest.UsageError`` naming the option and the fix. Called once test modules are
    collected, so that the ``sys.path`` entries conftests and rootdir imports add are in place.
    """
    from interleave.instrument.filter import resolve_targets

    for name in names:
        try:
            resolve_targets([name])
        except (ValueError, TypeError, ImportError) as exc:
            problem = str(exc)
        else:
            continue
        if "no Python source" not in problem:  # that message already says what to instrument instead
            problem += (". Fix: check the spelling; a module must be importable from the tests (installed, "
                        "or its directory in the ini option pythonpath); a path is relative to the directory "
                        "pytest runs in")
        raise pytest.UsageError(f"{label}: {problem}")


def merge_targets(*values: Any) -> Tuple[str, ...]:
    """One tuple of names from several levels (a name or a list per level), first occurrence kept."""
    out: Dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        for name in (value,) if isinstance(value, str) else value:
            out.setdefault(name, None)
    return tuple(out)
