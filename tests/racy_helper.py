"""A racy helper in its own module, to be instrumented or excluded by name."""

from __future__ import annotations


class Counter:
    """The README's counter: ``self.value += 1`` is load, add, store."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1

    def increment_with_call(self) -> None:
        v = self.value
        _touch()  # a call: where a GIL build may hand the GIL over
        self.value = v + 1


def _touch() -> None:
    return None
