"""A module that tests instrument or exclude (tests/test_dpor_soundness.py): a property over a field."""

from __future__ import annotations


class Box:
    """``value`` is a property over ``_v``: whether its getter is code under test depends on the filter."""

    def __init__(self) -> None:
        self._v = 0

    @property
    def value(self) -> int:
        """The stored number."""
        return self._v

    @value.setter
    def value(self, v: int) -> None:
        self._v = v
