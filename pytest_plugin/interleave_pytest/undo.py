"""Keeps ``monkeypatch`` from restoring interleave's stand-ins (virtual sleep, cooperative Lock) after a test.

Inside a run, ``time.sleep`` and ``threading.Lock`` are interleave's. A ``monkeypatch.setattr``
made in the explored body records those as the values to put back, and its teardown (after
interleave has put the real ones back) would install them for the rest of the session. After
an exploration, each such record is pointed at the value the name has again: the real one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, List


def _ours(value: Any) -> bool:
    module = getattr(value, "__module__", None)
    return isinstance(module, str) and module.split(".", 1)[0] == "interleave"


def _records(fixtures: Dict[str, Any]) -> List[Any]:
    out = []
    for value in fixtures.values():
        if type(value).__name__ == "MonkeyPatch" and isinstance(getattr(value, "_setattr", None), list):
            out.append(value._setattr)
    return out


@contextmanager
def real_values_restored(fixtures: Dict[str, Any]) -> Iterator[None]:
    """Around an exploration: monkeypatch records it adds name the real values, not interleave's."""
    lists = [(records, len(records)) for records in _records(fixtures)]
    try:
        yield
    finally:
        for records, start in lists:
            for i in range(start, len(records)):
                target, name, old = records[i]
                if not _ours(old):
                    continue
                now = getattr(target, name, None)
                if now is not None and not _ours(now):
                    records[i] = (target, name, now)
