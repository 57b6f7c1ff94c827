"""The modules of interleave.instrument.access import downwards only, in one declared order."""

from __future__ import annotations

import ast
from pathlib import Path

import interleave.instrument.access as access_pkg

# Lowest first: a module may import only modules listed before it.
ORDER = ["vocabulary", "values", "record", "stack", "analysis", "models", "primitives", "stdlib", "calls", "evaluate",
         "lifetime", "tracker"]
PACKAGE = Path(access_pkg.__file__).parent


def _sibling_imports(path: Path) -> set:
    """The package's modules that ``path`` imports, at module level or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_every_module_of_the_package_has_a_place_in_the_order() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)


def test_modules_import_only_modules_below_them() -> None:
    upward = []
    for rank, name in enumerate(ORDER):
        for imported in _sibling_imports(PACKAGE / f"{name}.py"):
            if ORDER.index(imported) >= rank:
                upward.append(f"{name} imports {imported}")
    assert upward == []


def test_no_module_is_over_500_lines() -> None:
    long = {p.name: n for p in PACKAGE.glob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}
