"""Build the import graph of ``interleave/`` with ast and find module and package cycles.

Every import counts, at module level or inside a function (a function-level import is still
an arrow between layers). ``from . import x`` is resolved to the submodule ``x`` when there is
one, else to the package. Used by the architecture test; runnable as a script to print cycles.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: str = "interleave", root: Path = ROOT) -> Dict[str, Set[str]]:
    """Module name -> the modules of ``package`` it imports (module- and function-level)."""
    files = {_module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph: Dict[str, Set[str]] = {}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        base = mod if is_pkg else mod.rpartition(".")[0]
        edges: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    src = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                for a in node.names:
                    sub = f"{src}.{a.name}"
                    targets.append(sub if sub in files else src)
            for t in targets:
                # ``import a.b.c`` imports a, a.b and a.b.c; the deepest known module is the arrow.
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    edges.add(t)
        graph[mod] = edges
    return graph


def _sccs(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: List[Tuple[str, List[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def package_of(module: str) -> str:
    """The package a module counts in for package cycles: ``interleave.runtime.x`` -> ``interleave.runtime``.

    A top-level module (``interleave.api``) is its own unit; the package ``interleave`` itself
    (its ``__init__``) is one too.
    """
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(graph: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """The module graph collapsed onto packages (see ``package_of``), without self-arrows."""
    out: Dict[str, Set[str]] = {}
    for mod, edges in graph.items():
        src = package_of(mod)
        out.setdefault(src, set())
        for t in edges:
            dst = package_of(t)
            if dst != src:
                out[src].add(dst)
    return out


def find_cycles(package: str = "interleave", root: Path = ROOT) -> Dict[str, List[List[str]]]:
    """Module cycles and package cycles of ``package``: ``{"modules": [...], "packages": [...]}``.

    Each cycle is the sorted list of the members of one strongly connected component; both
    lists are empty when the arrows only point one way.
    """
    graph = import_graph(package, root)
    return {"modules": _sccs(graph), "packages": _sccs(package_graph(graph))}


if __name__ == "__main__":
    cycles = find_cycles(*(sys.argv[1:2] or ["interleave"]))
    for kind, comps in cycles.items():
        for comp in comps:
            print(f"{kind[:-1]} cycle: {' <-> '.join(comp)}")
    sys.exit(1 if any(cycles.values()) else 0)
