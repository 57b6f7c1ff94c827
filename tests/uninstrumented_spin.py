"""Code a test excludes from instrumentation: to interleave it is like a loop in C."""

from __future__ import annotations

import os


def spin_forever() -> None:
    while True:
        pass


def read_until_x_swallowing(fd: int) -> None:
    """A library's worker loop (loguru's queued writer): real I/O, and any Exception logged and retried."""
    while True:
        try:
            if os.read(fd, 1) == b"x":
                return
        except Exception:  # noqa: BLE001, S112 - what such loops do
            continue


def spin_swallowing() -> None:
    """A busy loop that survives any Exception raised inside it."""
    while True:
        try:
            while True:
                pass
        except Exception:  # noqa: BLE001, S112 - what such loops do
            continue
