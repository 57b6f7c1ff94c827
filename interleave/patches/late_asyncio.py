"""asyncio first imported inside the run gets the run's asyncio patches as its import ends.

A library that imports asyncio only when first used (anyio's backend, for one) does so inside
the run, after the session patched what was there. Its event loop then waited in the real
selector (an inconclusive "blocked for real" where the program is correct) and read the C
accelerator's running loop, which all virtual threads share.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any, Callable, Optional, Sequence

from ..instrument.patching import Patcher


class _OnAsyncioImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of ``asyncio`` to patch it once it has run."""

    def __init__(self, patch: Callable[[], None]) -> None:
        self.patch = patch
        self.done = False

    def find_spec(self, name: str, path: Optional[Sequence[str]] = None, target: Any = None) -> Any:
        """The real spec of ``asyncio`` (found by the other finders), whose import ends with the patches."""
        if name != "asyncio" or self.done:
            return None
        self.done = True  # once, and not for the lookup below
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec
        patch = self.patch

        def exec_module(module: Any) -> None:
            run(module)
            patch()

        loader.exec_module = exec_module  # type: ignore[union-attr]  # this spec's own loader
        return spec


def patch_asyncio_when_imported(p: Patcher, patch: Callable[[Patcher], None]) -> None:
    """``patch(p)`` now if asyncio is imported, else as soon as the run imports it (until the patcher restores)."""
    if "asyncio" in sys.modules:
        patch(p)
        return
    finder = _OnAsyncioImport(lambda: patch(p))
    sys.meta_path.insert(0, finder)

    def remove() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    p.add_undo(remove)
