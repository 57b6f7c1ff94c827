"""The layout rules of docs/architecture.md, checked: arrows point down, no cycles, small files.

The layer table below is the one in docs/architecture.md; a module that is in no layer fails
the test, so a new module must be placed on purpose.
"""

from __future__ import annotations

import ast
from typing import Dict, List

import pytest
from import_graph import ROOT, find_cycles, import_graph

#: Top (1) to bottom (7). A module may import from its own layer and the layers below it.
LAYERS: Dict[int, List[str]] = {
    1: ["interleave", "interleave.api", "interleave.result", "interleave.report", "interleave.tracebacks",
        "interleave.early_timeouts", "interleave.diagnosis", "interleave.shrink", "interleave.races",
        "interleave.race_clocks", "interleave.hypothesis", "interleave.lincheck", "interleave.exploration",
        "interleave.options", "interleave.thread_warnings"],
    2: ["interleave.strategies"],
    3: ["interleave.session", "interleave.patches"],
    4: ["interleave.sync"],
    5: ["interleave.runtime"],
    6: ["interleave.instrument"],
    7: ["interleave.versions", "interleave.errors", "interleave.token"],
}
MAX_LINES = 500


def layer_of(module: str) -> int:
    """The layer of a module: the longest entry of ``LAYERS`` it is, or is inside."""
    best, where = "", 0
    for layer, names in LAYERS.items():
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, where = name, layer
    if not where:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")
    return where


def test_no_import_cycle_between_modules_or_packages() -> None:
    cycles = find_cycles()
    assert cycles == {"modules": [], "packages": []}


def test_imports_point_down_the_layers() -> None:
    upward = [f"{src} (layer {layer_of(src)}) imports {dst} (layer {layer_of(dst)})"
              for src, targets in sorted(import_graph().items()) for dst in sorted(targets)
              if layer_of(dst) < layer_of(src)]
    assert upward == []


def test_the_plugin_imports_no_module_it_would_cycle_with() -> None:
    """interleave never imports the plugin; the plugin imports interleave, not the other way."""
    plugin = import_graph("interleave_pytest", ROOT / "pytest_plugin")
    assert plugin, "the plugin's modules were not found"
    library = import_graph()
    assert not [m for targets in library.values() for m in targets if m.startswith("interleave_pytest")]
    for path in (ROOT / "interleave").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith(("interleave_pytest", "pytest"))], path


@pytest.mark.parametrize("folder", ["interleave", "pytest_plugin"])
def test_no_file_is_over_500_lines(folder: str) -> None:
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_version_checks_live_in_the_versions_table() -> None:
    """Only interleave/versions.py reads sys.version_info (and the import guard in __init__)."""
    readers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "interleave").rglob("*.py")
                     if "version_info" in p.read_text())
    assert readers == ["interleave/__init__.py", "interleave/versions.py"]


def test_layers_table_matches_what_exists() -> None:
    """Every module of interleave/ is in a layer (so a new one is placed on purpose)."""
    for module in import_graph():
        layer_of(module)
