"""Code a test excludes from instrumentation: to interleave it is like a loop in C."""

from __future__ import annotations


def spin_forever() -> None:
    while True:
        pass
