"""What the adopted primitives held when the run began: each execution starts from it, the run ends with it."""

from __future__ import annotations

import collections
import queue
import threading
from typing import Any, Iterable, List, Tuple

from ..instrument.access.primitives import OWN_PRIMITIVES
from ..instrument.patching import Patcher

# What a ThreadPoolExecutor's workers and submissions go through (the same names on 3.10-3.13).
_EXECUTOR_STATE = ("_work_queue", "_idle_semaphore", "_threads", "_broken", "_shutdown", "_shutdown_lock")


class StartState:
    """The start state of adopted primitives: twin locks, Conditions' waiters, counts, flags, items."""

    def __init__(self, patcher: Patcher) -> None:
        self.p = patcher
        self.conditions: List[Any] = []  # retooled Conditions (also inside Event, Semaphore, ...)
        self.locks: List[Tuple[Any, Tuple[Any, ...]]] = []  # twins and their lock state
        # The rest of a retooled object's state (a Semaphore's count, an Event's flag, a Queue's
        # items): (object, attribute, value at the start), and a container's items at the start.
        self.values: List[Tuple[Any, str, Any]] = []
        self.contents: List[Tuple[Any, List[Any]]] = []
        self.executors: List[Any] = []  # ThreadPoolExecutors given new internals each execution

    def add_condition(self, cond: Any) -> None:
        """A retooled Condition: each execution starts with no waiters; the run ends with its own.

        Its waiters at the start are threads outside the run (a fixture's service thread): they
        are set aside, not dropped, so that a notify after the run still wakes them.
        """
        self.p.setattr(cond, "_waiters", collections.deque())
        self.conditions.append(cond)

    def record_locks(self, twins: Iterable[Any]) -> None:
        """Remember each twin's lock state: every execution starts from it."""
        for new in twins:
            if type(new) in OWN_PRIMITIVES:
                self.locks.append((new, new.snapshot()))
            elif hasattr(new, "_block") and hasattr(new, "_owner"):
                b = new._block
                self.locks.append((new, (b._real.locked(), b._holder_tid, new._owner, new._count)))

    def keep_values(self, obj: Any, names: Tuple[str, ...]) -> None:
        """Each execution starts with these attributes as they are now; the run ends so too."""
        self._undo_at_the_end()
        self.values.extend((obj, name, getattr(obj, name)) for name in names if hasattr(obj, name))

    def keep_items(self, items: Any) -> None:
        """Each execution starts with this container's items as they are now; the run ends so too."""
        self._undo_at_the_end()
        self.contents.append((items, list(items)))

    def keep_executor(self, pool: Any) -> None:
        """Each execution runs ``pool`` as a new executor of the same size; the run ends with it as it was."""
        self.keep_values(pool, _EXECUTOR_STATE)
        self.executors.append(pool)

    def reset_between_executions(self) -> None:
        """Undo what an execution left in objects that outlive it.

        A thread unwound at the end of an execution may still hold a twin lock (it stopped
        before its ``with`` block's exit), waiters of dead threads stay queued, and a body may
        keep a permit, set an event or leave an item queued: the next execution must not
        inherit any of it.
        """
        for new, state in self.locks:
            if type(new) in OWN_PRIMITIVES:
                new.reset(state)
            else:
                new._block.reset((state[0], state[1]))
                new._owner, new._count = state[2], state[3]
        for cond in self.conditions:
            cond._waiters.clear()
        self._put_back_values()
        for pool in self.executors:
            # What ThreadPoolExecutor.__init__ makes, made now, inside the run: cooperative.
            pool._work_queue = queue.SimpleQueue()
            pool._idle_semaphore = threading.Semaphore(0)
            pool._threads = set()
            pool._broken = False
            pool._shutdown = False
            pool._shutdown_lock = threading.Lock()

    def _undo_at_the_end(self) -> None:
        if not self.values and not self.contents:
            self.p.add_undo(self._put_back_values)

    def _put_back_values(self) -> None:
        for obj, name, value in self.values:
            setattr(obj, name, value)
        for items, start in self.contents:
            items.clear()
            items.extend(start)


