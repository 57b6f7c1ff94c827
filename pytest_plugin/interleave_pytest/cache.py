"""Failing tokens kept in pytest's cache (``.pytest_cache``) and replayed first on the next run.

One small JSON file per (test, exploration in that test, Python version), written atomically,
so that pytest-xdist workers never clobber each other's entries. A token only replays on the
Python minor version that recorded it, hence the version in the key. The options that decide
what a replay runs (model, timeouts, instrument/exclude, ...) are stored with the token: a
stored failure is replayed only while the test's options are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from interleave.versions import python

DIRNAME = "interleave-failures"


class FailureStore:
    """Failing replay tokens by test node id; a no-op when the cache provider is disabled."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache
        self._dir: Optional[Path] = None
        self.broken = cache is None

    @property
    def enabled(self) -> bool:
        """False under ``-p no:cacheprovider`` or when the cache directory cannot be written."""
        return not self.broken

    def _root(self) -> Optional[Path]:
        if self.broken:
            return None
        if self._dir is None:
            try:
                self._dir = Path(self._cache.mkdir(DIRNAME))
            except (OSError, AttributeError):
                self.broken = True
                return None
        return self._dir

    @staticmethod
    def _name(nodeid: str, index: int) -> str:
        py = python()
        digest = hashlib.sha1(f"{nodeid}\0{index}\0{py}".encode()).hexdigest()[:24]
        return f"{digest}.json"

    def load(self, nodeid: str, index: int) -> Optional[Tuple[str, Optional[Dict[str, Any]]]]:
        """The stored failing token of this test's ``index``-th exploration and its options, if any.

        The options are None for an entry written before they were stored.
        """
        root = self._root()
        if root is None:
            return None
        try:
            with open(root / self._name(nodeid, index), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or data.get("nodeid") != nodeid:
            return None
        options = data.get("options")
        return token, options if isinstance(options, dict) else None

    def save(self, nodeid: str, index: int, token: str, options: Optional[Dict[str, Any]] = None) -> None:
        """Remember a failing token and the options it failed under (atomically: safe with xdist workers)."""
        root = self._root()
        if root is None:
            return
        data = {"nodeid": nodeid, "index": index, "token": token,
                "python": python(), "options": options or {}}
        try:
            fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, root / self._name(nodeid, index))
        except OSError:
            pass

    def drop(self, nodeid: str, index: int) -> None:
        """Forget this test's stored failure (fixed, or no longer replays)."""
        root = self._root()
        if root is None:
            return
        try:
            os.unlink(root / self._name(nodeid, index))
        except OSError:
            pass

    def clear(self) -> int:
        """Forget every stored failure; returns how many were removed."""
        root = self._root()
        if root is None:
            return 0
        removed = 0
        for p in root.glob("*.json"):
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
        return removed
