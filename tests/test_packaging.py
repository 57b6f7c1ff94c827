"""The distribution ships every package of the source tree (CI installs it, not the checkout)."""

from __future__ import annotations

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_package_of_interleave_is_listed_in_pyproject() -> None:
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    listed = set(re.findall(r'"(interleave[\w.]*)"', text.split("packages = [", 1)[1].split("]", 1)[0]))
    on_disk = set()
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, "interleave")):
        if "__init__.py" in files:
            on_disk.add(os.path.relpath(dirpath, ROOT).replace(os.sep, "."))
    assert on_disk - listed == set(), f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"
