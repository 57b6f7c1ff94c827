"""The process's signal handlers and signal mask, as the run found them: put back when it ends."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: no enum wrapping, a tenth of the cost
import signal
from typing import Any, Dict, Optional

_VALID = tuple(signal.valid_signals())


class SignalSettings:
    """What code under test may change for the whole process with ``signal.signal`` or
    ``signal.pthread_sigmask``: a blocked SIGINT would make later Ctrl-Cs do nothing."""

    def __init__(self) -> None:
        self.handlers: Dict[int, Any] = {}
        for signum in _VALID:
            try:
                self.handlers[signum] = _signal.getsignal(signum)
            except (OSError, ValueError):  # not a signal this platform lets Python handle
                continue
        self.mask: Optional[Any] = None
        if hasattr(signal, "pthread_sigmask"):
            self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])

    def put_back(self, *, skip: Any = ()) -> None:
        """Restore what changed (handlers set from C, which Python cannot name, stay as they are)."""
        if self.mask is not None and signal.pthread_sigmask(signal.SIG_BLOCK, []) != self.mask:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)
        for signum, handler in self.handlers.items():
            if handler is None or signum in skip:
                continue
            try:
                if _signal.getsignal(signum) != handler:
                    _signal.signal(signum, handler)
            except (OSError, ValueError):  # not the main thread: handlers cannot change here
                return
