"""A module the callback tests exclude (tests/test_dpor_callbacks.py): descriptors written in
Python that call a function back, as a library in site-packages would."""

from __future__ import annotations

from typing import Any, Callable


class memoized:  # noqa: N801 - named like the decorators it stands for
    """A non-data descriptor: computes on the first read and stores into the instance dict."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value
        return value


class counted:  # noqa: N801
    """A data descriptor: each read counts itself in the instance around a call of the function."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        before = obj.reads
        value = self.func(obj)
        obj.reads = before + 1
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError("read-only")
