"""Logging handlers built before the run keep their mutual exclusion inside it.

A handler holds its RLock while it emits. A real RLock belongs to the OS thread, which every
virtual thread shares, so without adoption each virtual thread would re-enter it: a handler
whose emit is a read-modify-write (correct under real threads) would be reported as a lost
update. The handlers here are reached only through logging's registry, as a fixture's are.
"""

from __future__ import annotations

import logging
import sys
from typing import Iterator, List

import pytest
from runtime_helpers import assert_finds, assert_passes, run_threads

from interleave.strategies import registry

STRATEGIES = registry.names()
BACKENDS = ["settrace"] + (["monitoring"] if sys.version_info >= (3, 12) else [])
LOGGER = "interleave.tests.prerun_logging"


class Counting(logging.Handler):
    """Counts records with a read-modify-write that only the handler's lock makes safe."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        seen = self.count
        self.count = seen + 1


class Unlocked(Counting):
    """The same count, outside the handler's lock: a real lost update."""

    def handle(self, record: logging.LogRecord) -> bool:
        self.emit(record)
        return True


def _attached(kind: type) -> Iterator[logging.Handler]:
    # Built here, reachable by the body only through logging.getLogger: not through its closure.
    log = logging.getLogger(LOGGER)
    handler = kind()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield handler
    finally:
        log.removeHandler(handler)


@pytest.fixture
def counting() -> Iterator[logging.Handler]:
    yield from _attached(Counting)


@pytest.fixture
def unlocked() -> Iterator[logging.Handler]:
    yield from _attached(Unlocked)


def _log_twice() -> None:
    log = logging.getLogger(LOGGER)
    before = log.handlers[0].count  # type: ignore[attr-defined]
    run_threads(lambda: log.info("a"), lambda: log.info("b"))
    assert log.handlers[0].count == before + 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_prerun_handler_lock_keeps_emit_exclusive(counting: logging.Handler, strategy: str,
                                                    backend: str) -> None:
    real = counting.lock
    assert_passes(_log_twice, executions=200, strategy=strategy, backend=backend)
    assert counting.lock is real  # the real lock is back after the run


@pytest.mark.parametrize("strategy", ["random", "dpor"])
def test_a_count_outside_the_handler_lock_is_still_found(unlocked: logging.Handler, strategy: str) -> None:
    real = unlocked.lock
    assert_finds(_log_twice, strategy=strategy)
    assert unlocked.lock is real  # put back after a failing run too


def test_pytest_log_capture_still_sees_the_records(caplog: pytest.LogCaptureFixture) -> None:
    """pytest's own handler is the harness's: it stays as it is and still captures the run's records."""
    caplog.set_level(logging.INFO)
    log = logging.getLogger(LOGGER + ".captured")

    def body() -> None:
        run_threads(lambda: log.info("from a thread"), lambda: log.info("from another"))

    assert_passes(body, executions=5)
    assert sum(r.getMessage() == "from a thread" for r in caplog.records) == 5


class _CountingLogger(logging.Logger):
    """A Logger class of the program (``setLoggerClass``): getLogger builds it under logging's module lock."""

    made: List[str] = []

    def __init__(self, name: str, level: int = logging.NOTSET) -> None:
        super().__init__(name, level)
        _CountingLogger.made.append(name)  # a switch point while logging's lock is held


def _get_one_logger_from_two_threads() -> None:
    name = LOGGER + ".module_lock"
    logging.Logger.manager.loggerDict.pop(name, None)  # a new logger in every execution
    _CountingLogger.made.clear()
    logging.setLoggerClass(_CountingLogger)
    try:
        got: List[int] = []
        run_threads(lambda: got.append(id(logging.getLogger(name))), lambda: got.append(id(logging.getLogger(name))))
        assert len(_CountingLogger.made) == 1 and got[0] == got[1], (_CountingLogger.made, got)
    finally:
        logging.setLoggerClass(logging.Logger)
        logging.Logger.manager.loggerDict.pop(name, None)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["random", "pct", "dpor", "portfolio"])
def test_logging_s_module_lock_keeps_getlogger_exclusive(strategy: str, backend: str) -> None:
    """Two threads asking for the same new logger get one (logging's RLock made at its import was
    re-entered by every virtual thread, and two loggers were built)."""
    real = logging._lock  # type: ignore[attr-defined]
    assert_passes(_get_one_logger_from_two_threads, executions=200, strategy=strategy, backend=backend)
    assert logging._lock is real  # type: ignore[attr-defined]
