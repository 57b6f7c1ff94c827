"""An open corpus of small concurrency bugs, each with a buggy and a fixed version.

Our own ports, written from the descriptions of SCTBench (Thomson, Donaldson and Betts,
PPoPP 2014 / TOPC 2016) and the CHESS papers (Musuvathi et al., OSDI 2008), plus the classes
issue 13 names. Every program has one shape, so that each tool runs the same code:

* ``setup()`` builds the shared state;
* ``BUGGY`` and ``FIXED`` are lists of workers, each a function of the state run as one thread;
* ``check(state)`` is True when the final state is correct (a deadlock is a failure by itself).

``harness.body(program, fixed)`` turns one into the zero-argument body that interleave and
interleave-test take (start every worker as a ``threading.Thread``, join them, assert
``check``); frontrun takes ``setup``/``workers``/``invariant`` directly.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import List

#: Every program, in the order of the tables. Modules set ``HARD`` (the classes issue 13 names,
#: and ones where a uniform walk needs more than a few dozen executions).
NAMES: List[str] = [
    "reorder_3", "reorder_10", "philosophers_5", "long_prefix", "deep_counter",
    "twostage", "work_stealing", "account", "lazy_init", "missed_signal", "queue_publish",
    "circular_buffer", "stack_torn",
]


def load(name: str) -> ModuleType:
    """The corpus module ``name``."""
    return importlib.import_module(f"{__name__}.{name}")


def programs() -> List[ModuleType]:
    """Every corpus module, in table order."""
    return [load(n) for n in NAMES]
