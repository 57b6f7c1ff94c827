"""What the benchmark scripts share: the example programs, the back-ends, and table printing.

The examples are loaded by path (examples/ is a folder of scripts, not a package), so the
benchmarks run from any working directory: ``python benchmarks/bench_examples.py``.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# (example module, function) for every program that has a bug, in the order of the docs.
BUGGY: List[Tuple[str, str]] = [
    ("lost_update", "buggy"),
    ("bank_transfer", "buggy"),
    ("bank_transfer", "deadlocking"),
    ("lazy_singleton", "buggy"),
    ("producer_consumer", "buggy"),
    ("executor_cache", "buggy"),
    ("deep_counter", "buggy"),
    ("reorder", "buggy"),
]
FIXED: List[Tuple[str, str]] = [(name, "fixed") for name in
                                ("lost_update", "bank_transfer", "lazy_singleton", "producer_consumer",
                                 "executor_cache", "deep_counter", "reorder")]

_modules: Dict[str, ModuleType] = {}


def load(name: str) -> ModuleType:
    """examples/<name>.py as a module."""
    if name not in _modules:
        spec = importlib.util.spec_from_file_location(f"interleave_example_{name}", EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _modules[name] = module
    return _modules[name]


def program(name: str, function: str) -> Callable[[], Any]:
    return getattr(load(name), function)


def backends() -> List[str]:
    """Both tracing back-ends where this Python has them: sys.monitoring exists from 3.12."""
    return ["monitoring", "settrace"] if sys.version_info >= (3, 12) else ["settrace"]


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def median_or_miss(values: Sequence[Optional[float]]) -> Optional[float]:
    """Median where a miss (None) counts as infinitely large: a median that is a miss is None.

    That way "median executions to first failure" never looks better than it was because the
    seeds that found nothing were left out.
    """
    ranked = sorted(math.inf if v is None else v for v in values)
    m = statistics.median(ranked)
    return None if math.isinf(m) else m


def fmt(value: Optional[float], digits: int = 0, miss: str = "-") -> str:
    if value is None:
        return miss
    return f"{value:,.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A Markdown table that is also readable as plain text (columns padded)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])
