"""Programs for the guarantee suite: endless loops of every shape, and one of each outcome."""

from __future__ import annotations

import threading
from typing import Callable, Dict

from runtime_helpers import run_threads


def spin() -> None:
    while True:  # no visible instruction at all: no switch point, only a backward jump
        pass


def count_locally() -> None:
    i = 0
    while True:
        i += 1


class Box:
    def __init__(self) -> None:
        self.n = 0


def bump_forever(box: Box) -> None:
    while True:
        box.n += 1


def endless_alone() -> None:
    spin()


def endless_in_a_thread() -> None:
    t = threading.Thread(target=spin)
    t.start()
    t.join()


def two_spinners() -> None:
    ts = [threading.Thread(target=spin) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def spinner_while_a_peer_waits() -> None:
    ev = threading.Event()
    t = threading.Thread(target=ev.wait)
    t.start()
    spin()


def local_spinners() -> None:
    t = threading.Thread(target=count_locally)
    t.start()
    count_locally()


def attribute_spinners() -> None:
    box = Box()
    t = threading.Thread(target=bump_forever, args=(box,))
    t.start()
    bump_forever(box)


ENDLESS: Dict[str, Callable[[], None]] = {
    "alone": endless_alone,
    "in a thread": endless_in_a_thread,
    "two spinners": two_spinners,
    "peer waits": spinner_while_a_peer_waits,
    "local only": local_spinners,
    "attribute": attribute_spinners,
}
# The line each one loops on (the ``while True:`` of the function the loop is in).
LOOP_LINES = {spin: spin.__code__.co_firstlineno + 1, count_locally: count_locally.__code__.co_firstlineno + 2,
              bump_forever: bump_forever.__code__.co_firstlineno + 1}


def passes() -> None:
    lock = threading.Lock()
    box = Box()

    def inc() -> None:
        with lock:
            box.n += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box.n == 2


def lost_update() -> None:
    box = Box()

    def inc() -> None:
        box.n += 1

    ts = [threading.Thread(target=inc) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box.n == 2


def deadlock() -> None:
    a, b = threading.Lock(), threading.Lock()

    def ab() -> None:
        with a:
            with b:
                pass

    def ba() -> None:
        with b:
            with a:
                pass

    ts = [threading.Thread(target=ab), threading.Thread(target=ba)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def raises_in_body() -> None:
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    raise ValueError("the body itself fails")


def step_limit() -> None:
    two_spinners()


class Flags:
    x = 0
    y = 0


def reader_race(reads: int) -> Callable[[], None]:
    """A thread reads a shared field ``reads`` times, then another; its bug needs it to run all of
    that before the other thread's one write (past the fairness bound when ``reads`` > 1,000)."""

    def body() -> None:
        flags = Flags()
        seen = []

        def reader() -> None:
            for _ in range(reads):
                flags.x  # noqa: B018 - a read of shared state: a switch point
            seen.append(flags.y)

        def writer() -> None:
            flags.y = 1

        run_threads(reader, writer)
        assert seen == [1], "the reader ran to its end before the writer's one write"

    return body


def spin_wait() -> None:
    """A thread spins until another sets a flag: correct under any fair scheduler."""
    flags = Flags()

    def spin() -> None:
        while not flags.y:
            pass

    def setter() -> None:
        flags.y = 1

    run_threads(spin, setter)


def ping_pong() -> None:
    """Two threads hand a turn back and forth by spinning on it, three times each."""
    turn = Flags()

    def player(me: int) -> None:
        for _ in range(3):
            while turn.x != me:
                pass
            turn.x = 1 - me

    run_threads(lambda: player(0), lambda: player(1))
    assert turn.x == 0


def counting_waiter() -> None:
    """Waits for a flag by counting (each iteration changes a local: it looks like progress)."""
    flags = Flags()
    saw = []

    def waiter() -> None:
        for i in range(10**7):
            if flags.y:
                saw.append(i)
                return

    def setter() -> None:
        flags.y = 1

    run_threads(waiter, setter)
    assert saw, "the waiter never saw the flag"


OUTCOMES: Dict[str, Callable[[], None]] = {
    "pass": passes,
    "exception": lost_update,
    "deadlock": deadlock,
    "body raises": raises_in_body,
    "step-limit": step_limit,
}


def coin_flips() -> None:
    """Correct whatever ``random`` draws: each thread appends on a coin flip, then sleeps a jitter."""
    import random
    import time

    items: list = []

    def worker() -> None:
        if random.random() < 0.5:
            items.append(1)
        time.sleep(random.random() / 100)
        items.append(2)

    run_threads(worker, worker)
    assert items.count(2) == 2


_BODIES_RUN: list = []


def changing_thread_count() -> None:
    """Correct, but not the same program twice: a count kept across executions picks the threads."""
    _BODIES_RUN.append(1)
    box = Box()
    lock = threading.Lock()

    def inc() -> None:
        with lock:
            box.n += 1

    ts = [threading.Thread(target=inc) for _ in range(2 + len(_BODIES_RUN) % 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert box.n == len(ts)


def polls_under_a_lock() -> None:
    """Correct: a waiter polls under a Condition's lock with a timeout, another sets the flag; and
    a loop retries a timed acquire of a lock another thread needs once."""
    cv = threading.Condition()
    lock = threading.Lock()
    flags = Flags()
    flags.ready = flags.seen = False

    def setter() -> None:
        with cv:
            flags.ready = True
            cv.notify()
        with lock:
            flags.seen = True

    t = threading.Thread(target=setter)
    t.start()
    with cv:
        while not flags.ready:
            cv.wait(0.2)
    while True:
        if lock.acquire(timeout=0.1):
            try:
                if flags.seen:
                    break
            finally:
                lock.release()
    t.join()


def polls_forever() -> None:
    """Buggy: a thread polls an Event nobody sets, with a timed wait, beside a thread that ends."""
    ev = threading.Event()

    def waiter() -> None:
        while not ev.wait(0.01):
            pass

    def other() -> None:
        pass

    ts = [threading.Thread(target=waiter), threading.Thread(target=other)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
