"""Process-wide settings a virtual thread asks for: signal handlers, tracers for every thread.

Every virtual thread runs on the one OS thread that explores, so the checks CPython makes
against the OS thread see the main thread everywhere; and "all threads" means all virtual
threads, not the process's other real threads (the watchdog among them).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable, Optional

from .running import running

_real_signal = signal.signal


def signal_handler(signalnum: int, handler: Any) -> Any:
    """``signal.signal``: as in CPython, only the main thread may set a handler."""
    ex = running()
    if ex is not None and ex.current is not None and ex.current.tid != 0:
        raise ValueError("signal only works in main thread of the main interpreter")
    return _real_signal(signalnum, handler)


def settrace_all_threads(func: Optional[Callable[..., Any]]) -> None:
    """``threading.settrace_all_threads`` (3.12+): this thread and every thread started after."""
    threading.settrace(func)  # type: ignore[arg-type]
    sys.settrace(func)


def setprofile_all_threads(func: Optional[Callable[..., Any]]) -> None:
    """``threading.setprofile_all_threads`` (3.12+): this thread and every thread started after."""
    threading.setprofile(func)  # type: ignore[arg-type]
    sys.setprofile(func)
