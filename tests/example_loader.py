"""Import the scripts in examples/ by path (examples/ is a folder of scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

_loaded: Dict[str, ModuleType] = {}


def example(name: str) -> ModuleType:
    """examples/<name>.py as a module, registered in sys.modules so its globals can be adopted."""
    if name not in _loaded:
        spec = importlib.util.spec_from_file_location(f"interleave_example_{name}", EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]
