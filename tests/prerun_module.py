"""Synchronisation objects created at import time, before any run: the code under test's globals."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, ClassVar, Dict, Generic, List, Optional, TypeVar

LOCK = threading.Lock()
RLOCK = threading.RLock()
COND = threading.Condition()
EVENT = threading.Event()
QUEUE: queue.Queue[Any] = queue.Queue()
SIMPLE: queue.SimpleQueue[Any] = queue.SimpleQueue()
SEM = threading.BoundedSemaphore(1)
BARRIER = threading.Barrier(2)
LOCAL = threading.local()

state: Dict[str, Any] = {"value": 0, "items": []}


class Ctx(threading.local):
    """A thread-local subclass defined at import time (so built on the C implementation)."""

    def __init__(self) -> None:
        self.stack: List[int] = []


class Account:
    """Shared state guarded by a class attribute lock."""

    lock = threading.Lock()
    balance = 0

    @classmethod
    def deposit(cls, amount: int, locked: bool = True) -> None:
        if locked:
            with cls.lock:
                cls.balance = cls.balance + amount
        else:
            cls.balance = cls.balance + amount


def reset() -> None:
    """Module state outlives an execution: each execution starts from here."""
    state["value"] = 0
    state["items"] = []
    EVENT.clear()
    Account.balance = 0


def increment(locked: bool = True) -> None:
    if locked:
        with LOCK:
            v = state["value"]
            state["value"] = v + 1
    else:
        v = state["value"]
        state["value"] = v + 1


def reentrant_increment() -> None:
    with RLOCK:
        with RLOCK:
            v = state["value"]
            state["value"] = v + 1


def produce(item: int) -> None:
    with COND:
        state["items"].append(item)
        COND.notify()


def consume(use_while: bool = True) -> int:
    with COND:
        if use_while:
            while not state["items"]:
                COND.wait()
        elif not state["items"]:
            COND.wait()
        return state["items"].pop(0)


def add_with_attribute_lock() -> None:
    """The lock is kept in a list the function carries as an attribute, beside a mark-like one."""
    with add_with_attribute_lock.locks[0]:  # type: ignore[attr-defined]
        v = state["value"]
        state["value"] = v + 1


add_with_attribute_lock.locks = [threading.Lock()]  # type: ignore[attr-defined]
add_with_attribute_lock.pytestmark = []  # type: ignore[attr-defined]


def add_with_default_lock(lock: Any = threading.Lock(), locked: bool = True) -> None:  # noqa: B008 - on purpose
    """The lock exists only as this function's default: no global names it."""
    if locked:
        with lock:
            v = state["value"]
            state["value"] = v + 1
    else:
        v = state["value"]
        state["value"] = v + 1


def _closing_over_a_lock() -> Any:
    lock = threading.Lock()

    def add_with_closure_lock() -> None:
        """The lock exists only in this function's closure: no global names it."""
        with lock:
            v = state["value"]
            state["value"] = v + 1

    return add_with_closure_lock


add_with_closure_lock = _closing_over_a_lock()


def add_with_keyword_default_lock(*, lock: Any = threading.Lock()) -> None:  # noqa: B008 - on purpose
    """The lock exists only as this function's keyword-only default."""
    with lock:
        v = state["value"]
        state["value"] = v + 1


T = TypeVar("T")


class TypedBox(Generic[T]):
    """A user class built with typing: its objects are searched, unlike typing's own annotations."""

    lock = threading.Lock()
    items: ClassVar[List[Any]] = []

    @classmethod
    def put(cls, item: Any) -> None:
        with cls.lock:
            cls.items = cls.items + [item]


ANNOTATIONS: Dict[str, Any] = {"optional": Optional[int], "callable": Callable[[int], str], "any": Any}
