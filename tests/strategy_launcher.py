"""Starts and joins threads from code the tests exclude from instrumentation.

With the launcher excluded, the main thread contributes no switch points of its own, so the
number of schedules of a small program can be worked out by hand.
"""

import threading
from typing import Callable


def start_and_join(*targets: Callable[[], None]) -> None:
    """Start one thread per target, then join them in order."""
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
