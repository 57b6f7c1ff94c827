"""A lazily created, process-wide settings object: double-checked locking done wrong and right.

``get_settings()`` is called from many threads; ``Settings()`` is expensive and must run once.

* ``get_settings_buggy`` checks ``_instance is None`` outside the lock and then takes the lock,
  but does not check again inside it. Two threads can both see ``None``, queue up on the lock,
  and each build its own ``Settings``: the constructor runs twice and callers hold different
  objects.
* ``get_settings_fixed`` checks again once it holds the lock (the second "check" of double-checked
  locking), so only the first thread in builds the object.

The module-level lock is created at import time, before interleave runs: interleave makes such
locks cooperative for the duration of the run because the code under test reaches them as module
globals.

Run it: ``python examples/lazy_singleton.py``.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, List, Optional

import interleave


class Settings:
    """Stands in for something expensive: parsing files, opening a connection pool."""

    constructed: List[Settings] = []  # every instance ever built, to count constructor runs

    def __init__(self) -> None:
        self.values = {"timeout": 30, "retries": 3}
        Settings.constructed.append(self)


_instance: Optional[Settings] = None
_lock = threading.Lock()


def get_settings_buggy() -> Settings:
    global _instance
    if _instance is None:
        with _lock:
            # Missing: a second `if _instance is None` here. Another thread may have built the
            # instance while this one waited for the lock.
            _instance = Settings()
    return _instance


def get_settings_fixed() -> Settings:
    global _instance
    if _instance is None:  # fast path: no lock once the instance exists
        with _lock:
            if _instance is None:  # re-check: someone may have won the race while we waited
                _instance = Settings()
    return _instance


def _reset() -> None:
    """Forget the singleton, so that every execution starts from a fresh process state."""
    global _instance
    _instance = None
    Settings.constructed.clear()


def _three_callers(get_settings: Callable[[], Settings]) -> None:
    _reset()
    seen: List[Settings] = []

    def worker() -> None:
        seen.append(get_settings())

    threads = [threading.Thread(target=worker, name=f"caller-{i}") for i in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(Settings.constructed) == 1, f"Settings() ran {len(Settings.constructed)} times"
    assert all(s is seen[0] for s in seen), "callers got different Settings objects"


def buggy() -> None:
    """Three threads ask for the settings at the same time; the lock is not re-checked."""
    _three_callers(get_settings_buggy)


def fixed() -> None:
    """The same with the second check inside the lock."""
    _three_callers(get_settings_fixed)


def main() -> int:
    result = interleave.explore(buggy, executions=2000, seed=0)
    print(f"== Buggy (no re-check under the lock): {result.verdict}")
    if result.failure is not None:
        print(result.failure.report)
    print()
    fixed_result = interleave.explore(fixed, executions=2000, seed=0)
    print(f"== Fixed (double-checked): {fixed_result.verdict}")
    return 0 if result.failure is not None and fixed_result.failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
