"""OS threads the harness itself needs: each runs jobs one at a time and ends when idle.

Two of them exist: the one that runs the watchdogs, and the one that runs Hypothesis's engine for
``strategy="hypothesis"``. Starting an OS thread and waiting for it to end cost an exploration
about a tenth of a millisecond of CPU, paid again by every marked test, so a thread that served
one exploration waits ``LINGER_SECONDS`` for the next before it ends by itself. They are raw
``_thread`` threads: no entry in ``threading``'s registries, so ``threading.enumerate()`` and
``active_count()`` never see them, and once the process stops exploring they are gone. A forked
child has no copy of them: its first job starts a thread of its own.
"""

from __future__ import annotations

import _thread
import os
import weakref
from typing import Callable, Optional

#: Seconds the thread waits for the next exploration before it ends.
LINGER_SECONDS = 1.0

_real_start = _thread.start_new_thread
_real_lock = _thread.allocate_lock


class LingeringThread:
    """Runs jobs on one OS thread of its own, started on demand, ended after ``LINGER_SECONDS`` idle."""

    def __init__(self) -> None:
        self._reset()
        _ALL.add(self)

    def _reset(self) -> None:
        self._mutex = _real_lock()
        self._wake = _real_lock()  # released once per job handed over
        self._wake.acquire()
        self._job: Optional[Callable[[], None]] = None
        self._alive = False  # a thread is serving, or about to wait for the next job

    def run(self, job: Callable[[], None]) -> None:
        """Run ``job`` on this thread; jobs run one after another, never two at once.

        A job handed over while an earlier one still runs waits for it; one still waiting when
        the next comes is dropped (a watchdog already stopped; Hypothesis's engine hands over
        its next job only once the previous one has ended).
        """
        with self._mutex:
            self._job = job
            if self._wake.locked():
                self._wake.release()
            if self._alive:
                return
            self._alive = True
        try:
            _real_start(self._serve, ())
        except BaseException:
            with self._mutex:
                self._alive = False
                self._job = None
                self._wake.acquire(False)
            raise

    @property
    def alive(self) -> bool:
        """Whether the thread is there (serving, or waiting for the next job)."""
        return self._alive

    def _serve(self) -> None:
        while True:
            woken = self._wake.acquire(True, LINGER_SECONDS)
            with self._mutex:
                # A job handed over just as the wait timed out is still served.
                if not woken and not self._wake.acquire(False):
                    self._alive = False
                    return
                job, self._job = self._job, None
            try:
                if job is not None:
                    job()
            except BaseException:
                with self._mutex:
                    self._alive = False  # the next job starts a new thread
                raise
            finally:
                # A finished job must not be kept alive while the thread waits: a watchdog holds
                # its exploration's session (patcher, adopter), and whatever they refer to.
                job = None


_ALL: weakref.WeakSet[LingeringThread] = weakref.WeakSet()


def _reset_in_child() -> None:
    for server in list(_ALL):
        server._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)

#: The thread that runs the watchdogs (see :mod:`interleave.runtime.watchdog`).
WATCH_THREAD = LingeringThread()
